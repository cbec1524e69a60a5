/**
 * Sign with Digital Bazaar's stack: JSON request(s) on stdin, JSON response(s) on stdout.
 *
 * Request: {credential | presentation, key: {seed: hex} | {secretKeyMultibase,
 *   publicKeyMultibase}, cryptosuite: "eddsa-rdfc-2022" | "eddsa-jcs-2022", created?: ISO date,
 *   challenge?: string, domain?: string (presentations only)}
 * Response: {ok: true, document, verificationMethod, controller, publicKeyMultibase}
 *   or {ok: false, error, errorText}. An array of requests gives an array of responses.
 *
 * Credentials go through `vc.issue` (assertionMethod), presentations through
 * `vc.signPresentation` (authentication, with challenge/domain).
 */
import * as vc from '@digitalbazaar/vc';
import {documentLoader, keyPairFrom, serve, signingSuite} from './common.mjs';

await serve(async request => {
  const {credential, presentation, key, cryptosuite, created, challenge, domain} = request;
  const keyPair = await keyPairFrom(key);
  const suite = signingSuite({keyPair, cryptosuite, created});
  let document;
  if(credential) {
    document = await vc.issue({credential, suite, documentLoader});
  } else if(presentation) {
    document = await vc.signPresentation({
      presentation, suite, documentLoader, challenge, domain
    });
  } else {
    throw new TypeError('The request needs a "credential" or a "presentation".');
  }
  return {
    ok: true,
    document,
    verificationMethod: keyPair.id,
    controller: keyPair.controller,
    publicKeyMultibase: keyPair.publicKeyMultibase
  };
});
