// Types of strings-en.js for the tests (TypeScript reads the catalogue through this).
export declare const en: Record<string, string>;
