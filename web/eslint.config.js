import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist", "node_modules", "src/protocol.generated.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // The CSP blocks inline styles: never use the style prop.
      "no-restricted-syntax": ["error", { selector: "JSXAttribute[name.name='style']", message: "Inline styles are blocked by the site's CSP; use a class." }],
    },
  },
  { files: ["scripts/**/*.mjs"], languageOptions: { globals: { ...globals.node } } },
);
