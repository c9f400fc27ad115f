"""openstack-lite's ML2 mechanism driver: binds every port with no L2 agent.

There is no Open vSwitch or Linux bridge on an openstack-lite machine, and the in-tree
mechanism drivers refuse to bind a port without a live agent (Nova then fails the boot with
PortBindingFailed). Servers run on Nova's fake hypervisor, so a port only needs a binding
record: take the first segment offered, call it an OVS port, and mark it ACTIVE.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class LiteMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
