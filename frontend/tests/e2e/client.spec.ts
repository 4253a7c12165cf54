import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import openapiTS, { astToString } from "openapi-typescript";

// The committed client (lib/api-schema.d.ts) is what `npm run gen:api` makes from the running
// backend's OpenAPI document: no request or response type is written by hand.
test("the generated client matches the running backend's OpenAPI", async ({ request }) => {
  const apiUrl = `http://127.0.0.1:${process.env.E2E_API_PORT ?? 8100}`;
  const document = await (await request.get(`${apiUrl}/openapi.json`)).json();
  const generated = astToString(await openapiTS(document, { defaultNonNullable: false }));
  const committed = readFileSync("lib/api-schema.d.ts", "utf8");
  expect(committed).toContain(generated.trim());
});
