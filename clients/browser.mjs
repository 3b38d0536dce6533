// A real headless Chromium calling the gateway from a page on another origin, then opening the docs.
//
//   GATEWAY_URL=http://127.0.0.1:8000 PAGE_PORTS=5173,5174 CRM_USER=... CRM_PASSWORD=... node browser.mjs
//
// For each page port it serves a blank page on http://127.0.0.1:<port>, and from there signs in,
// creates a customer and reads its ETag and Location, the way a frontend would. It prints one JSON
// object: per origin what the page saw (or the error the browser raised), and what the docs page showed.
import http from "node:http";
import { chromium } from "playwright-core";

const gateway = process.env.GATEWAY_URL;
const ports = (process.env.PAGE_PORTS ?? "").split(",").filter(Boolean).map(Number);
const credentials = { username: process.env.CRM_USER, password: process.env.CRM_PASSWORD };

function servePage(port) {
  const server = http.createServer((_, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<!doctype html><title>frontend</title><p>frontend</p>");
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function frontendCalls({ gateway, credentials }) {
  try {
    const form = new URLSearchParams(credentials);
    const signIn = await fetch(`${gateway}/api/v1/auth/token`, { method: "POST", body: form });
    const { access_token: token } = await signIn.json();
    const created = await fetch(`${gateway}/api/v1/customers`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "Idempotency-Key": crypto.randomUUID(),
        "X-Request-ID": "browser-test-1",
      },
      body: JSON.stringify({ kind: "individual", name: "From the browser" }),
    });
    return {
      status: created.status,
      etag: created.headers.get("ETag"),
      location: created.headers.get("Location"),
      requestId: created.headers.get("X-Request-ID"),
      rateLimit: created.headers.get("RateLimit-Remaining"),
    };
  } catch (error) {
    return { error: String(error) };
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" });
const result = { origins: {} };
try {
  for (const port of ports) {
    const server = await servePage(port);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    result.origins[`http://127.0.0.1:${port}`] = await page.evaluate(frontendCalls, { gateway, credentials });
    await page.close();
    server.close();
  }
  const docs = await browser.newPage();
  await docs.goto(`${gateway}/docs`);
  await docs.waitForSelector(".opblock", { timeout: 30000 });
  result.docs = { operations: await docs.locator(".opblock").count(), title: await docs.title() };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
