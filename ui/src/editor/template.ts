// The template test a new playground starts from. It builds its page in the browser, so it passes without
// network access (air-gapped clusters); the same example the local mode seeds (supertest/examples.py).
export const TEMPLATE_TITLE = "a counter increments when clicked";

export const TEMPLATE = `import { test, expect } from '@playwright/test';

// The page is built in the browser itself, so the example runs without network access.
test('a counter increments when clicked', async ({ page }) => {
  await page.setContent(\`
    <main>
      <h1>Hello from Supertest</h1>
      <button onclick="this.dataset.n = (+this.dataset.n || 0) + 1; this.textContent = 'Clicked ' + this.dataset.n">
        Click me
      </button>
    </main>\`);
  await expect(page.getByRole('heading')).toHaveText('Hello from Supertest');
  await page.getByRole('button').click();
  await page.getByRole('button').click();
  await expect(page.getByRole('button')).toHaveText('Clicked 2');
});
`;
