// typescript-eslint, strict and type-aware, over every package, example, test and bench.
// Rule options below are settings, not exemptions: numbers and booleans read fine in template
// strings, and `() => void f()`-style arrow shorthands are idiomatic for callbacks.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/coverage/**", "bench-results/**", "**/*.cjs", "**/*.mjs", "**/*.js", "**/tsup.config.ts"] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ["./tsconfig.json"], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
    },
  },
);
