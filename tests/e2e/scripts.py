"""Playwright scripts for the e2e runs (short on purpose: these machines are slow)."""

PASSING = """\
const { test, expect } = require('@playwright/test');
test('renders a heading', async ({ page }) => {
  await page.setContent('<h1>supertest</h1>');
  await expect(page.locator('h1')).toHaveText('supertest');
});
"""
# No browser: the fastest real Playwright run, for capacity and restart bursts.
TINY = """\
const { test, expect } = require('@playwright/test');
test('tiny', async () => { expect(1 + 1).toBe(2); });
"""
FAILING = """\
const { test, expect } = require('@playwright/test');
test('fails', async () => { expect(1 + 1).toBe(3); });
"""
TYPESCRIPT = """\
import { test, expect } from '@playwright/test';
const answer: number = 42;
test('typed', async () => { expect(answer).toBe(42); });
"""
SYNTAX_ERROR = """\
const { test } = require('@playwright/test');
test('broken', async () => {
"""
# A secret for API_TOKEN, and a script that prints it (to see it masked) and passes only with its real value.
TOKEN = "k8s-s3cret-Token-9"
PRINTS_TOKEN = """\
const { test, expect } = require('@playwright/test');
test('reads its token', async () => {
  console.log('token is ' + process.env.API_TOKEN);
  expect(process.env.API_TOKEN.length).toBe(18);
});
"""


def sleeping(seconds: float, tests: int = 1) -> str:
    body = "\n".join(
        f"test('sleep {i}', async () => {{ await new Promise(r => setTimeout(r, {int(seconds * 1000)})); }});"
        for i in range(tests)
    )
    return "const { test } = require('@playwright/test');\n" + body + "\n"
