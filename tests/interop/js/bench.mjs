/**
 * Throughput of Digital Bazaar's stack on an OB 3.0 credential (a figure, not a test).
 *
 * Usage: node bench.mjs [credential.json] [--seconds=N]
 *   credential.json defaults to ./ob3-credential-3kb.json (~3 KB compact JSON, issuer did:key
 *   for the seed 9b...9b); its issuer id is replaced by the benchmark key's did:key.
 * Prints one JSON object: per cryptosuite, sign and verify operations per second (vc.issue and
 * vc.verifyCredential, offline loader, did:key resolved locally, a fresh suite object per
 * operation so the suite's document-hash cache never short-cuts a measurement).
 */
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import * as vc from '@digitalbazaar/vc';
import {documentLoader, keyPairFrom, SUITES, signingSuite, verifyingSuites} from './common.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const secondsArg = args.find(a => a.startsWith('--seconds='));
const SECONDS = secondsArg ? Number(secondsArg.split('=')[1]) : 3;
const credentialPath = args.find(a => !a.startsWith('--')) ||
  join(HERE, 'ob3-credential-3kb.json');

const credential = JSON.parse(readFileSync(credentialPath, 'utf8'));
const keyPair = await keyPairFrom({seed: '9b'.repeat(32)});
if(typeof credential.issuer === 'object') {
  credential.issuer.id = keyPair.controller;
} else {
  credential.issuer = keyPair.controller;
}
const created = '2024-01-01T00:00:00Z';
const now = '2025-01-01T00:00:00Z';

async function rate(operation) {
  // warm-up: JIT, context cache, did:key driver
  for(let i = 0; i < 20; ++i) {
    await operation();
  }
  const budget = BigInt(Math.round(SECONDS * 1e9));
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  let count = 0;
  while(elapsed < budget) {
    await operation();
    ++count;
    elapsed = process.hrtime.bigint() - start;
  }
  const seconds = Number(elapsed) / 1e9;
  return {ops: count, seconds: Number(seconds.toFixed(3)),
    per_second: Number((count / seconds).toFixed(1)),
    ms_per_op: Number((1000 * seconds / count).toFixed(3))};
}

function versionOf(name) {
  const path = join(HERE, 'node_modules', ...name.split('/'), 'package.json');
  return JSON.parse(readFileSync(path, 'utf8')).version;
}

const results = {};
for(const cryptosuite of SUITES) {
  const sign = () => vc.issue({
    credential: structuredClone(credential),
    suite: signingSuite({keyPair, cryptosuite, created}),
    documentLoader
  });
  const signed = await sign();
  const check = await vc.verifyCredential({
    credential: signed, suite: verifyingSuites(cryptosuite), documentLoader, now
  });
  if(!check.verified) {
    throw new Error(`${cryptosuite}: the benchmark credential does not verify: ` +
      `${check.error?.errors?.[0]?.message ?? check.error?.message}`);
  }
  const verify = async () => {
    const r = await vc.verifyCredential({
      credential: signed, suite: verifyingSuites(cryptosuite), documentLoader, now
    });
    if(!r.verified) {
      throw new Error(`${cryptosuite}: verification failed during the benchmark`);
    }
  };
  results[cryptosuite] = {sign: await rate(sign), verify: await rate(verify)};
}

const packages = [
  '@digitalbazaar/vc', '@digitalbazaar/data-integrity',
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite', '@digitalbazaar/eddsa-jcs-2022-cryptosuite',
  '@digitalbazaar/ed25519-multikey', 'jsonld', 'rdf-canonize'
];
process.stdout.write(JSON.stringify({
  implementation: 'digitalbazaar-js',
  node: process.version,
  packages: Object.fromEntries(packages.map(p => [p, versionOf(p)])),
  credential: {path: credentialPath, compact_json_bytes: JSON.stringify(credential).length},
  seconds_per_measure: SECONDS,
  results
}, null, 2) + '\n');
