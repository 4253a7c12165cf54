// Test-only Better Auth instance that issues real JWTs (jwt plugin) and serves its JWKS.
// Usage: node issuer.mjs [--alg EdDSA|RS256|PS256|ES256|ES512] [--port 0]
// Prints one JSON line {"url": ..., "alg": ...} on stdout once listening; logs go to stderr.
// Exits on SIGTERM/SIGINT or when stdin closes (so an orphaned issuer does not linger).
import http from "node:http";
import { parseArgs } from "node:util";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { createJwk, jwt } from "better-auth/plugins/jwt";

// Anything that writes to stdout would corrupt the handshake line the parent reads.
console.log = console.info = console.debug = console.error;

const ALGS = ["EdDSA", "RS256", "PS256", "ES256", "ES512"];
const { values: args } = parseArgs({
  options: {
    alg: { type: "string", default: "EdDSA" },
    port: { type: "string", default: "0" },
  },
});
if (!ALGS.includes(args.alg)) {
  console.error(`unsupported --alg ${args.alg}; expected one of ${ALGS.join(", ")}`);
  process.exit(2);
}

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(args.port), "127.0.0.1", resolve);
});
// baseURL must know the real port, so Better Auth is built after listen().
const url = `http://127.0.0.1:${server.address().port}`;

const jwtOptions = { jwks: { keyPairConfig: { alg: args.alg } } };
const db = { user: [], session: [], account: [], verification: [], jwks: [] };
const auth = betterAuth({
  baseURL: url,
  secret: "better-auth-test-issuer-secret-0123456789abcdef",
  database: memoryAdapter(db),
  emailAndPassword: { enabled: true },
  // Sign-up users are unverified, so change-email applies immediately (lets tests change the email claim).
  user: { changeEmail: { enabled: true, updateEmailWithoutVerification: true } },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { level: "warn", log: (level, message, ...rest) => console.error(`[better-auth ${level}]`, message, ...rest) },
  plugins: [jwt(jwtOptions)],
});
const authHandler = toNodeHandler(auth);

let jwksDown = false;
let jwksHits = 0;

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function rotate() {
  const newest = Math.max(0, ...db.jwks.map((k) => new Date(k.createdAt).getTime()));
  // Signing picks the newest key by createdAt, so the new key must be strictly newer.
  while (Date.now() <= newest) await new Promise((r) => setTimeout(r, 1));
  const key = await createJwk({ context: await auth.$context }, jwtOptions);
  return { kid: key.id, keys: db.jwks.length };
}

async function readJson(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return JSON.parse(body || "{}");
}

// An access token for another resource (e.g. an MCP server), as an OAuth provider plugin on top
// of jwt() issues one: signed with the same JWKS keys, `aud` = the resource the client asked for.
async function resourceToken({ userId, audience }) {
  const user = db.user.find((u) => u.id === userId);
  if (!user) throw new Error(`unknown user ${userId}`);
  const payload = { sub: user.id, email: user.email, name: user.name, azp: "test-mcp-client", aud: audience };
  const { token } = await auth.api.signJWT({ body: { payload } });
  return { token };
}

server.on("request", async (req, res) => {
  const path = new URL(req.url, url).pathname;
  try {
    if (path === "/api/auth/jwks") {
      jwksHits += 1;
      if (jwksDown) return sendJson(res, 503, { error: "jwks down (test)" });
    } else if (path === "/test/rotate" && req.method === "POST") {
      return sendJson(res, 200, await rotate());
    } else if (path === "/test/jwks-down" && req.method === "POST") {
      jwksDown = true;
      return sendJson(res, 200, { down: true });
    } else if (path === "/test/jwks-up" && req.method === "POST") {
      jwksDown = false;
      return sendJson(res, 200, { down: false });
    } else if (path === "/test/jwks-hits" && req.method === "GET") {
      return sendJson(res, 200, { hits: jwksHits });
    } else if (path === "/test/resource-token" && req.method === "POST") {
      return sendJson(res, 200, await resourceToken(await readJson(req)));
    } else if (path.startsWith("/test/")) {
      return sendJson(res, 404, { error: "unknown test endpoint" });
    }
    if (path.startsWith("/api/auth/")) return await authHandler(req, res);
    sendJson(res, 404, { error: "not found" });
  } catch (err) {
    console.error(err);
    if (!res.headersSent) sendJson(res, 500, { error: String(err) });
    else res.end();
  }
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();

process.stdout.write(JSON.stringify({ url, alg: args.alg }) + "\n");
