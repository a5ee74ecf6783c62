// A dapp's view of POST /v1/commands, with ethers v6 only (see docs/signing.md).
//
// Builds the command {chain_id, kind, actor, nonce, body} as canonical JSON, signs it with
// Wallet.signMessage (EIP-191 personal_sign over exactly those bytes) and POSTs it with fetch.
//
// Usage: node tests/js/sign_command.mjs BASE_URL PRIVATE_KEY KIND BODY_JSON
// stdout: JSON {"status": http status, "response": parsed body, "payload": string, "signature": "0x..", "actor": "0x.."}
import { Wallet } from "ethers";

// Canonical JSON: object keys sorted by code point, no whitespace, every character outside
// printable ASCII (0x20-0x7e) escaped as \uXXXX (lower-case hex), integers only.
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}; send amounts as decimal strings`);
    return String(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const byCodePoint = (a, b) => {
      const x = Array.from(a), y = Array.from(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const d = x[i].codePointAt(0) - y[i].codePointAt(0);
        if (d !== 0) return d;
      }
      return x.length - y.length;
    };
    const keys = Object.keys(value).sort(byCodePoint);
    return "{" + keys.map((k) => canonicalJson(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }
  throw new Error(`cannot encode ${typeof value}`);
}

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

const [baseUrl, privateKey, kind, bodyJson] = process.argv.slice(2);
if (!baseUrl || !privateKey || !kind) {
  console.error("usage: node sign_command.mjs BASE_URL PRIVATE_KEY KIND BODY_JSON");
  process.exit(2);
}
const wallet = new Wallet(privateKey);
const actor = wallet.address.toLowerCase(); // the engine wants the lower-case address
const { chain_id } = await getJson(`${baseUrl}/v1/chain`);
const { nonce } = await getJson(`${baseUrl}/v1/nonce/${actor}`);

const payload = canonicalJson({ chain_id, kind, actor, nonce, body: JSON.parse(bodyJson || "{}") });
const signature = await wallet.signMessage(payload); // EIP-191 over the UTF-8 bytes of payload

const r = await fetch(`${baseUrl}/v1/commands`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ payload, signature }),
});
process.stdout.write(JSON.stringify({ status: r.status, response: await r.json(), payload, signature, actor }) + "\n");
