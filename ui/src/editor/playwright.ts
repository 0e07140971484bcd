// Playwright-aware completions: snippets for test structure, and members after `page.`, `expect(...).`
// and locator chains. A static list (no language server): small, offline and good enough for a playground.
import { snippetCompletion as snip, type Completion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";

export const SNIPPETS: Completion[] = [
  snip("test('${name}', async ({ page }) => {\n\t${}\n});", { label: "test", detail: "Playwright test", type: "keyword" }),
  snip("test.describe('${group}', () => {\n\t${}\n});", { label: "describe", detail: "test.describe block", type: "keyword" }),
  snip("test.beforeEach(async ({ page }) => {\n\t${}\n});", { label: "beforeEach", detail: "hook", type: "keyword" }),
  snip("import { test, expect } from '@playwright/test';\n", { label: "import", detail: "Playwright Test imports", type: "keyword" }),
  snip("await page.goto('${url}');", { label: "goto", detail: "navigate", type: "function" }),
  snip("await page.setContent(`${html}`);", { label: "setContent", detail: "page from HTML", type: "function" }),
  snip("await page.getByRole('${button}', { name: '${name}' }).click();", { label: "click", detail: "click by role", type: "function" }),
  snip("await page.getByLabel('${label}').fill('${value}');", { label: "fill", detail: "fill a field", type: "function" }),
  snip("await expect(page.getByText('${text}')).toBeVisible();", { label: "expectVisible", detail: "assert visible", type: "function" }),
  snip("await expect(page).toHaveTitle(/${title}/);", { label: "expectTitle", detail: "assert title", type: "function" }),
  snip("await page.screenshot({ path: '${name}.png' });", { label: "screenshot", detail: "save a screenshot", type: "function" }),
];

const fn = (label: string, detail: string): Completion => ({ label, detail, type: "method" });

const PAGE: Completion[] = [
  fn("goto", "(url) navigate"),
  fn("setContent", "(html) load HTML"),
  fn("getByRole", "(role, { name }) locator"),
  fn("getByText", "(text) locator"),
  fn("getByLabel", "(label) locator"),
  fn("getByPlaceholder", "(text) locator"),
  fn("getByTestId", "(id) locator"),
  fn("locator", "(selector) locator"),
  fn("click", "(selector) click"),
  fn("fill", "(selector, value)"),
  fn("waitForURL", "(url) wait for navigation"),
  fn("waitForLoadState", "(state)"),
  fn("screenshot", "(options) capture"),
  fn("title", "() page title"),
  fn("url", "() current URL"),
  fn("evaluate", "(fn) run in the page"),
  fn("reload", "() reload"),
  fn("goBack", "() history back"),
  fn("keyboard", "keyboard input"),
  fn("mouse", "mouse input"),
];

const LOCATOR: Completion[] = [
  fn("click", "() click"),
  fn("dblclick", "() double click"),
  fn("fill", "(value) type into"),
  fn("press", "(key) press a key"),
  fn("check", "() tick a checkbox"),
  fn("uncheck", "() untick"),
  fn("selectOption", "(value) choose"),
  fn("hover", "() hover"),
  fn("textContent", "() text"),
  fn("innerText", "() rendered text"),
  fn("isVisible", "() boolean"),
  fn("count", "() number of matches"),
  fn("first", "() first match"),
  fn("last", "() last match"),
  fn("nth", "(i) i-th match"),
  fn("filter", "({ hasText }) narrow"),
  fn("getByRole", "(role, { name }) locator"),
  fn("getByText", "(text) locator"),
  fn("locator", "(selector) locator"),
  fn("waitFor", "() until attached/visible"),
];

const MATCHERS: Completion[] = [
  "toBeVisible", "toBeHidden", "toBeEnabled", "toBeDisabled", "toBeChecked", "toHaveText", "toContainText",
  "toHaveValue", "toHaveCount", "toHaveAttribute", "toHaveClass", "toHaveURL", "toHaveTitle", "toHaveScreenshot",
  "toBe", "toEqual", "toBeTruthy", "toContain",
].map((m) => fn(m, "assertion"));

/** Members after a dot, chosen by what the expression before it looks like. */
function membersFor(before: string): Completion[] | null {
  if (/expect\((?:[^()]|\([^()]*\))*\)(?:\.not)?\.$/.test(before)) return MATCHERS;
  if (/\bpage\.$/.test(before)) return PAGE;
  if (/\)\.$/.test(before)) return LOCATOR;
  return null;
}

export function playwrightCompletions(ctx: CompletionContext): CompletionResult | null {
  const line = ctx.state.doc.lineAt(ctx.pos);
  const word = ctx.matchBefore(/\w*/);
  const from = word ? word.from : ctx.pos;
  const before = line.text.slice(0, from - line.from);
  const members = membersFor(before);
  if (members) return { from, options: members, validFor: /^\w*$/ };
  if (!word || (word.from === word.to && !ctx.explicit)) return null;
  return { from, options: SNIPPETS, validFor: /^\w*$/ };
}
