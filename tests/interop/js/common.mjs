/**
 * Shared plumbing for the Digital Bazaar interop scripts (sign.mjs, verify.mjs, bench.mjs).
 *
 * - An OFFLINE document loader: it serves exactly the JSON-LD contexts Merito bundles (read from
 *   src/merito/formats/contexts/manifest.json, url -> path relative to that folder, each file's
 *   SHA-256 checked against the manifest), resolves did:key URLs locally with Digital Bazaar's
 *   did:key driver, and throws on any other URL. Both implementations therefore canonicalize
 *   against byte-identical contexts.
 * - Key material: an Ed25519 key from a 32-byte seed (hex) or from Multikey multibase values.
 * - Data Integrity suites for eddsa-rdfc-2022 and eddsa-jcs-2022.
 * - stdin/stdout JSON helpers: a single object in gives a single object out, an array in gives
 *   an array out (batching keeps node start-up off the hot path of the Python test-suite).
 */
import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as DidKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as EddsaJcs2022 from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

const HERE = dirname(fileURLToPath(import.meta.url));
export const CONTEXTS_DIR = process.env.MERITO_CONTEXTS_DIR ||
  resolve(HERE, '..', '..', '..', 'src', 'merito', 'formats', 'contexts');

export const SUITES = ['eddsa-rdfc-2022', 'eddsa-jcs-2022'];

function loadBundledContexts() {
  const manifest = JSON.parse(readFileSync(join(CONTEXTS_DIR, 'manifest.json'), 'utf8'));
  const contexts = new Map();
  for(const [url, entry] of Object.entries(manifest)) {
    const bytes = readFileSync(join(CONTEXTS_DIR, entry.path));
    const digest = createHash('sha256').update(bytes).digest('hex');
    if(digest !== entry.sha256) {
      throw new Error(`bundled context ${url} does not match its pinned SHA-256`);
    }
    contexts.set(url, JSON.parse(bytes.toString('utf8')));
  }
  return contexts;
}

const CONTEXTS = loadBundledContexts();

const didKeyDriver = DidKey.driver();
didKeyDriver.use({
  multibaseMultikeyHeader: 'z6Mk',
  fromMultibase: Ed25519Multikey.from
});

/** URLs the loader was asked for (for diagnostics). */
export const loadedUrls = new Set();

export async function documentLoader(url) {
  loadedUrls.add(url);
  if(url.startsWith('did:key:')) {
    const document = await didKeyDriver.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  if(CONTEXTS.has(url)) {
    // a private copy: the JSON-LD processor must never see a shared mutable object
    return {contextUrl: null, documentUrl: url, document: structuredClone(CONTEXTS.get(url))};
  }
  throw new Error(`Offline document loader: "${url}" is not bundled with Merito (no fetching).`);
}

/**
 * An Ed25519 Multikey key pair with a did:key controller.
 *
 * `key` is {seed: hex} (RFC 8032 32-byte secret seed) or
 * {secretKeyMultibase, publicKeyMultibase} (Multikey encodings).
 */
export async function keyPairFrom(key) {
  let keyPair;
  if(key && typeof key.seed === 'string') {
    const seed = Uint8Array.from(Buffer.from(key.seed, 'hex'));
    if(seed.length !== 32) {
      throw new TypeError(`"key.seed" must be 32 bytes of hex, got ${seed.length} bytes.`);
    }
    keyPair = await Ed25519Multikey.generate({seed});
  } else if(key && typeof key.publicKeyMultibase === 'string') {
    keyPair = await Ed25519Multikey.from({
      publicKeyMultibase: key.publicKeyMultibase,
      secretKeyMultibase: key.secretKeyMultibase
    });
  } else {
    throw new TypeError('"key" must be {seed} or {publicKeyMultibase, secretKeyMultibase}.');
  }
  const fingerprint = keyPair.publicKeyMultibase;
  keyPair.controller = `did:key:${fingerprint}`;
  keyPair.id = `${keyPair.controller}#${fingerprint}`;
  return keyPair;
}

export function signingSuite({keyPair, cryptosuite, created}) {
  const signer = keyPair.signer();
  const date = created ? new Date(created) : undefined;
  if(cryptosuite === 'eddsa-rdfc-2022') {
    return new DataIntegrityProof({signer, date, cryptosuite: eddsaRdfc2022});
  }
  if(cryptosuite === 'eddsa-jcs-2022') {
    return new DataIntegrityProof({
      signer, date, cryptosuite: EddsaJcs2022.createSignCryptosuite()
    });
  }
  throw new TypeError(`Unsupported "cryptosuite": ${JSON.stringify(cryptosuite)}.`);
}

export function verifyingSuites(cryptosuite) {
  const all = {
    'eddsa-rdfc-2022': () => new DataIntegrityProof({cryptosuite: eddsaRdfc2022}),
    'eddsa-jcs-2022': () => new DataIntegrityProof({
      cryptosuite: EddsaJcs2022.createVerifyCryptosuite()
    })
  };
  if(cryptosuite === undefined || cryptosuite === null) {
    return Object.values(all).map(make => make());
  }
  if(!(cryptosuite in all)) {
    throw new TypeError(`Unsupported "cryptosuite": ${JSON.stringify(cryptosuite)}.`);
  }
  return [all[cryptosuite]()];
}

/** A JSON-safe view of an Error, following `cause` and aggregated `errors`. */
export function describeError(error) {
  if(!error) {
    return null;
  }
  const out = {name: error.name, message: String(error.message ?? error)};
  if(Array.isArray(error.errors) && error.errors.length) {
    out.errors = error.errors.map(describeError);
  }
  const cause = error.cause ?? error.details?.cause;
  if(cause) {
    out.cause = describeError(cause);
  }
  if(error.details) {
    try {
      out.details = JSON.parse(JSON.stringify(error.details));
    } catch {
      out.details = String(error.details);
    }
  }
  return out;
}

/** Flatten an error tree into one readable line (for test failure messages). */
export function errorText(error) {
  if(!error) {
    return '';
  }
  const parts = [];
  const walk = e => {
    if(!e) {
      return;
    }
    parts.push(`${e.name}: ${e.message}`);
    (e.errors || []).forEach(walk);
    // jsonld.js keeps the document loader's error in `details.cause`
    walk(e.cause ?? e.details?.cause);
  };
  walk(error);
  return parts.join(' | ');
}

export async function readStdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Run `handle` on one request or on each request of an array; print JSON to stdout. */
export async function serve(handle) {
  const input = await readStdinJson();
  const batch = Array.isArray(input);
  const requests = batch ? input : [input];
  const responses = [];
  // sequential on purpose: results stay in order and errors stay attributable
  for(const request of requests) {
    try {
      responses.push(await handle(request));
    } catch(e) {
      responses.push({ok: false, error: describeError(e), errorText: errorText(e)});
    }
  }
  process.stdout.write(JSON.stringify(batch ? responses : responses[0]));
  process.stdout.write('\n');
}
