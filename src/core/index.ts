// The core: business rules as plain objects taking their dependencies. Routes get `Core`.
export interface Core {}
