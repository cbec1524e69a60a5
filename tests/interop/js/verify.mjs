/**
 * Verify with Digital Bazaar's stack: JSON request(s) on stdin, JSON response(s) on stdout.
 *
 * Request: {credential | presentation, cryptosuite?: one suite to accept (default: both
 *   eddsa-rdfc-2022 and eddsa-jcs-2022), challenge?, domain? (presentations), now?: ISO date}
 * Response: {ok: true, verified, errorText, error, proofs: [{verified, cryptosuite,
 *   proofPurpose, verificationMethod, error}], credentialResults?, statusChecked}
 *   An array of requests gives an array of responses.
 *
 * `credentialStatus` cannot be checked offline: a stub `checkStatus` accepts it and the response
 * says statusChecked: false, so only the proof and the data-model checks are exercised.
 */
import * as vc from '@digitalbazaar/vc';
import {describeError, documentLoader, errorText, serve, verifyingSuites} from './common.mjs';

const checkStatus = async () => ({verified: true});

function summariseProofResults(results) {
  return (results || []).map(r => ({
    verified: Boolean(r.verified),
    cryptosuite: r.proof?.cryptosuite ?? null,
    proofPurpose: r.proof?.proofPurpose ?? null,
    verificationMethod: r.proof?.verificationMethod ?? null,
    error: describeError(r.error)
  }));
}

function summarise(result) {
  return {
    verified: Boolean(result.verified),
    error: describeError(result.error),
    errorText: errorText(result.error),
    proofs: summariseProofResults(result.results)
  };
}

await serve(async request => {
  const {credential, presentation, cryptosuite, challenge, domain, now} = request;
  const suite = verifyingSuites(cryptosuite);
  if(credential) {
    const result = await vc.verifyCredential({
      credential, suite, documentLoader, checkStatus, now
    });
    return {ok: true, ...summarise(result), statusChecked: false};
  }
  if(presentation) {
    const result = await vc.verify({
      presentation, suite, documentLoader, checkStatus, now, challenge, domain
    });
    const presentationSummary = result.presentationResult ?
      summarise(result.presentationResult) : summarise(result);
    return {
      ok: true,
      verified: Boolean(result.verified),
      error: describeError(result.error),
      errorText: errorText(result.error),
      presentation: presentationSummary,
      credentialResults: (result.credentialResults || []).map(summarise),
      statusChecked: false
    };
  }
  throw new TypeError('The request needs a "credential" or a "presentation".');
});
