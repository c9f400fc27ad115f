// Types of strings-ru.js for the tests (TypeScript reads the catalogue through this).
export declare const ru: Record<string, string>;
