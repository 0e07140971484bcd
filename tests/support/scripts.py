"""Playwright specs used across the test tiers. All build their page in the browser: no network."""

PASSING = """\
import { test, expect } from '@playwright/test';

test('counter increments', async ({ page }) => {
  await page.setContent('<button onclick="this.textContent = +this.textContent + 1">0</button>');
  await page.getByRole('button').click();
  await expect(page.getByRole('button')).toHaveText('1');
});
"""

FAILING = """\
import { test, expect } from '@playwright/test';

test('passes', async ({ page }) => {
  await page.setContent('<h1>ok</h1>');
  await expect(page.locator('h1')).toHaveText('ok');
});

test('heading is wrong on purpose', async ({ page }) => {
  await page.setContent('<h1>actual heading</h1>');
  await expect(page.locator('h1')).toHaveText('expected heading', { timeout: 1000 });
});
"""

TYPESCRIPT = """\
import { test, expect, type Page } from '@playwright/test';

interface Item { name: string; price: number }

async function render(page: Page, items: Item[]): Promise<void> {
  const rows = items.map((i: Item) => `<li>${i.name}: ${i.price}</li>`).join('');
  await page.setContent(`<ul>${rows}</ul>`);
}

test('typed helper renders a list', async ({ page }) => {
  const items: Item[] = [{ name: 'a', price: 1 }, { name: 'b', price: 2 }];
  await render(page, items);
  await expect(page.locator('li')).toHaveCount(2);
});
"""

SYNTAX_ERROR = """\
import { test } from '@playwright/test';

test('broken', async ({ page }) => {
  await page.setContent(<h1>;
});
"""

HANG = """\
import { test } from '@playwright/test';

test.setTimeout(0);
test('waits forever', async ({ page }) => {
  await page.setContent('<p>waiting</p>');
  await new Promise(() => {});
});
"""


def many_tests(count: int) -> str:
    body = "\n".join(
        f"""test('case {i}', async ({{ page }}) => {{
  await page.setContent('<p id="v">{i}</p>');
  await expect(page.locator('#v')).toHaveText('{i}');
}});"""
        for i in range(count)
    )
    return "import { test, expect } from '@playwright/test';\n\n" + body + "\n"
