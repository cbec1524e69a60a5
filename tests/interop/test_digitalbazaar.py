"""Interoperability with Digital Bazaar's JavaScript VC stack (@digitalbazaar/vc 7.x).

Merito signs and Digital Bazaar verifies, and the other way round, for eddsa-rdfc-2022 and
eddsa-jcs-2022 (W3C vc-di-eddsa 1.0 §3.2, §3.3) with an Ed25519 did:key, on an Open Badges 3.0
credential built from the 1EdTech test vector
(tests/fixtures/ob3-examples/spec-test-vectors/obv3p0/unsigned-credential.extracted.json) and on
a verifiable presentation with challenge and domain. Both sides load byte-identical contexts: the
node scripts read Merito's bundled contexts through src/merito/formats/contexts/manifest.json
and refuse any other URL.

Also pinned here: the JSON-LD "safe mode" Digital Bazaar applies under eddsa-rdfc-2022
(undefined terms and relative types are errors, VC Data Integrity 1.0 §2.4), and whether what
merito.formats.ob3.build_credential issues by default passes it. Known gaps are strict xfails
that name the fix; they turn into failures the day the gap closes.

Node start-up costs ~0.2 s, so each direction sends all its documents in one node run (the
module-scoped fixtures below) and the tests only read the answers.

Needs `node` and `npm ci` run in tests/interop/js; without them the module is skipped.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from merito.domain.achievements import Achievement, Criteria, Profile
from merito.errors import ProofError
from merito.formats.did_key import create_did_key
from merito.formats.ob3 import build_credential
from merito.formats.status_list import bitstring_status_list_entry
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.proofs.resolution import VerificationMethodResolver

pytestmark = pytest.mark.interop

JS_DIR = Path(__file__).parent / "js"
FIXTURE = (
    Path(__file__).parents[1]
    / "fixtures/ob3-examples/spec-test-vectors/obv3p0/unsigned-credential.extracted.json"
)
SUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")
NODE_TIMEOUT_S = 120

MERITO_SEED = bytes(range(32))
DB_SEED = bytes.fromhex("9b" * 32)
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
CREATED_ISO = "2024-01-01T00:00:00Z"
CHALLENGE = "f1c2a6c0-8f3e-4d1b-9a57-7d3a2e0b5c11"
DOMAIN = "https://verifier.example"
UNBUNDLED_CONTEXT = "https://contexts.example/not-bundled/v1"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("interop: `node` is not on PATH (Node 20+ is needed)")
    if not (JS_DIR / "node_modules" / "@digitalbazaar" / "vc" / "package.json").is_file():
        pytest.skip(f"interop: JS dependencies are not installed; run `npm ci` in {JS_DIR}")
    return node


def run_node(script: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send a batch of requests to one of the node scripts; its answers, in order."""
    completed = subprocess.run(
        [_node(), script],
        cwd=JS_DIR,
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"node {script} exited with {completed.returncode}:\n{completed.stderr}")
    answers: list[dict[str, Any]] = json.loads(completed.stdout)
    assert len(answers) == len(requests)
    return answers


def ob3_credential(issuer_did: str) -> dict[str, Any]:
    """The 1EdTech OB 3.0 test-vector credential, issued by ``issuer_did``."""
    credential: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    credential["issuer"]["id"] = issuer_did
    return credential


def presentation_of(credential: dict[str, Any], holder: str) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": [credential],
    }


def tampered(document: dict[str, Any]) -> dict[str, Any]:
    """A copy with one claim changed (the achievement's name) and the proof left as it was."""
    copied = copy.deepcopy(document)
    if "verifiableCredential" in copied:
        copied["holder"] = "did:example:someone-else"
    else:
        copied["credentialSubject"]["achievement"]["name"] = "Teamwork (forged)"
    return copied


def merito_verify(document: dict[str, Any], **options: Any) -> list[Any]:
    return data_integrity.verify(document, resolver=VerificationMethodResolver(), **options)


def describe(results: list[Any]) -> str:
    return "; ".join(f"verified={r.verified} {r.message}" for r in results) or "no proof results"


# --- keys --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def merito_signer() -> Signer:
    key = generate_key("Ed25519", seed=MERITO_SEED)
    did = create_did_key(key.public_key.to_multibase())
    return Signer(key, f"{did}#{did.removeprefix('did:key:')}")


@pytest.fixture(scope="module")
def db_did() -> str:
    return create_did_key(generate_key("Ed25519", seed=DB_SEED).public_key.to_multibase())


# --- Merito signs, Digital Bazaar verifies -----------------------------------------------


@pytest.fixture(scope="module")
def merito_signed(merito_signer: Signer) -> dict[str, dict[str, Any]]:
    """Documents signed by Merito, by label."""
    credential = ob3_credential(merito_signer.controller)
    signed: dict[str, dict[str, Any]] = {}
    for suite in SUITES:
        signed[f"credential/{suite}"] = data_integrity.sign(
            credential, signer=merito_signer, cryptosuite=suite, created=CREATED
        )
    for suite in SUITES:
        signed[f"presentation/{suite}"] = data_integrity.sign(
            presentation_of(signed[f"credential/{suite}"], merito_signer.controller),
            signer=merito_signer,
            cryptosuite=suite,
            created=CREATED,
            proof_purpose="authentication",
            challenge=CHALLENGE,
            domain=DOMAIN,
        )
    return signed


@pytest.fixture(scope="module")
def db_verdicts(merito_signed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Digital Bazaar's verdict on each Merito document, its tampered copy and wrong options."""
    labels: list[str] = []
    requests: list[dict[str, Any]] = []
    for label, document in merito_signed.items():
        kind = "presentation" if label.startswith("presentation/") else "credential"
        options = {"challenge": CHALLENGE, "domain": DOMAIN} if kind == "presentation" else {}
        labels += [label, f"{label}/tampered"]
        requests += [
            {kind: document, **options},
            {kind: tampered(document), **options},
        ]
        if kind == "presentation":
            labels.append(f"{label}/wrong-challenge")
            requests.append({kind: document, "challenge": "another-challenge", "domain": DOMAIN})
    unbundled = copy.deepcopy(merito_signed["credential/eddsa-rdfc-2022"])
    unbundled["@context"].append(UNBUNDLED_CONTEXT)
    labels.append("credential/unbundled-context")
    requests.append({"credential": unbundled})
    return dict(zip(labels, run_node("verify.mjs", requests), strict=True))


@pytest.mark.parametrize("suite", SUITES)
def test_digitalbazaar_verifies_merito_credential(
    db_verdicts: dict[str, dict[str, Any]], suite: str
) -> None:
    verdict = db_verdicts[f"credential/{suite}"]
    assert verdict["ok"], verdict
    assert verdict["verified"], verdict["errorText"]
    assert [p["cryptosuite"] for p in verdict["proofs"]] == [suite]


@pytest.mark.parametrize("suite", SUITES)
def test_digitalbazaar_rejects_tampered_merito_credential(
    db_verdicts: dict[str, dict[str, Any]], suite: str
) -> None:
    verdict = db_verdicts[f"credential/{suite}/tampered"]
    assert verdict["ok"], verdict
    assert not verdict["verified"]
    assert "Invalid signature" in verdict["errorText"]


@pytest.mark.parametrize("suite", SUITES)
def test_digitalbazaar_verifies_merito_presentation(
    db_verdicts: dict[str, dict[str, Any]], suite: str
) -> None:
    verdict = db_verdicts[f"presentation/{suite}"]
    assert verdict["ok"], verdict
    assert verdict["presentation"]["verified"], verdict["presentation"]["errorText"]
    assert [r["verified"] for r in verdict["credentialResults"]] == [True]
    assert verdict["verified"]


@pytest.mark.parametrize("suite", SUITES)
def test_digitalbazaar_rejects_merito_presentation_misuse(
    db_verdicts: dict[str, dict[str, Any]], suite: str
) -> None:
    forged = db_verdicts[f"presentation/{suite}/tampered"]
    assert not forged["verified"]
    assert "Invalid signature" in forged["presentation"]["errorText"]
    replayed = db_verdicts[f"presentation/{suite}/wrong-challenge"]
    assert not replayed["verified"]
    assert "challenge is not as expected" in replayed["presentation"]["errorText"]


def test_digitalbazaar_side_never_fetches(db_verdicts: dict[str, dict[str, Any]]) -> None:
    """The node loader serves Merito's bundled contexts only: any other URL is an error."""
    verdict = db_verdicts["credential/unbundled-context"]
    assert not verdict["verified"]
    assert f'"{UNBUNDLED_CONTEXT}" is not bundled with Merito' in verdict["errorText"]


# --- Digital Bazaar signs, Merito verifies -----------------------------------------------


@pytest.fixture(scope="module")
def db_signed(db_did: str) -> dict[str, dict[str, Any]]:
    """Documents signed by Digital Bazaar (one node run), by label."""
    key = {"seed": DB_SEED.hex()}
    credential = ob3_credential(db_did)
    labels = [f"credential/{suite}" for suite in SUITES]
    requests: list[dict[str, Any]] = [
        {"credential": credential, "key": key, "cryptosuite": suite, "created": CREATED_ISO}
        for suite in SUITES
    ]
    answers = dict(zip(labels, run_node("sign.mjs", requests), strict=True))
    for label, answer in answers.items():
        assert answer["ok"], f"{label}: {answer.get('errorText')}"
        assert answer["controller"] == db_did, "both sides must derive one did:key from the seed"
    signed = {label: answer["document"] for label, answer in answers.items()}
    # presentations wrap the credentials just signed: a second, dependent batch
    labels = [f"presentation/{suite}" for suite in SUITES]
    requests = [
        {
            "presentation": presentation_of(signed[f"credential/{suite}"], db_did),
            "key": key,
            "cryptosuite": suite,
            "created": CREATED_ISO,
            "challenge": CHALLENGE,
            "domain": DOMAIN,
        }
        for suite in SUITES
    ]
    for label, answer in zip(labels, run_node("sign.mjs", requests), strict=True):
        assert answer["ok"], f"{label}: {answer.get('errorText')}"
        signed[label] = answer["document"]
    return signed


@pytest.mark.parametrize("suite", SUITES)
def test_merito_verifies_digitalbazaar_credential(
    db_signed: dict[str, dict[str, Any]], suite: str
) -> None:
    document = db_signed[f"credential/{suite}"]
    assert document["proof"]["cryptosuite"] == suite
    results = merito_verify(document)
    assert results, "Merito found no proof to check"
    assert all(r.verified for r in results), describe(results)


@pytest.mark.parametrize("suite", SUITES)
def test_merito_rejects_tampered_digitalbazaar_credential(
    db_signed: dict[str, dict[str, Any]], suite: str
) -> None:
    results = merito_verify(tampered(db_signed[f"credential/{suite}"]))
    assert results
    assert not any(r.verified for r in results), describe(results)


@pytest.mark.parametrize("suite", SUITES)
def test_merito_verifies_digitalbazaar_presentation(
    db_signed: dict[str, dict[str, Any]], suite: str
) -> None:
    presentation = db_signed[f"presentation/{suite}"]
    assert presentation["proof"]["challenge"] == CHALLENGE
    results = merito_verify(
        presentation, expected_purpose="authentication", challenge=CHALLENGE, domain=DOMAIN
    )
    assert results
    assert all(r.verified for r in results), describe(results)
    inner = merito_verify(presentation["verifiableCredential"][0])
    assert inner
    assert all(r.verified for r in inner), describe(inner)


@pytest.mark.parametrize("suite", SUITES)
def test_merito_rejects_digitalbazaar_presentation_misuse(
    db_signed: dict[str, dict[str, Any]], suite: str
) -> None:
    presentation = db_signed[f"presentation/{suite}"]
    forged = merito_verify(
        tampered(presentation),
        expected_purpose="authentication",
        challenge=CHALLENGE,
        domain=DOMAIN,
    )
    assert not any(r.verified for r in forged), describe(forged)
    replayed = merito_verify(
        presentation,
        expected_purpose="authentication",
        challenge="another-challenge",
        domain=DOMAIN,
    )
    assert not any(r.verified for r in replayed), describe(replayed)


# --- both sides agree byte for byte -------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_same_key_and_time_give_identical_proofs(
    db_signed: dict[str, dict[str, Any]], suite: str
) -> None:
    """Ed25519 is deterministic: with one key, one document and one `created`, Merito and
    Digital Bazaar must produce the same proof, proofValue included (same canonical bytes)."""
    db_document = db_signed[f"credential/{suite}"]
    key = generate_key("Ed25519", seed=DB_SEED)
    did = create_did_key(key.public_key.to_multibase())
    signer = Signer(key, db_document["proof"]["verificationMethod"])
    assert signer.controller == did
    unsigned = {k: v for k, v in db_document.items() if k != "proof"}
    ours = data_integrity.sign(unsigned, signer=signer, cryptosuite=suite, created=CREATED)
    assert ours["proof"] == db_document["proof"]


# --- the JSON-LD "safe mode" trap ---------------------------------------------------------
#
# Digital Bazaar canonicalizes in jsonld.js "safe mode": a term no context defines, or a type
# that stays a relative IRI, makes eddsa-rdfc-2022 refuse to sign or verify ("Safe mode
# validation error"), as VC Data Integrity 1.0 §2.4 requires (DATA_LOSS_DETECTION_ERROR).
# eddsa-jcs-2022 signs the JSON as it is and is not affected. 1EdTech's examples type
# credentialSchema `1EdTechJsonSchemaValidator2019`, which only the extensions context
# (https://purl.imsglobal.org/spec/ob/v3p0/extensions.json) defines.

SCHEMA_URL = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"


def _with_undefined_term(credential: dict[str, Any]) -> dict[str, Any]:
    credential["undefinedTerm"] = "no context defines this term"
    return credential


def _with_1edtech_schema(credential: dict[str, Any]) -> dict[str, Any]:
    credential["credentialSchema"] = [{"id": SCHEMA_URL, "type": "1EdTechJsonSchemaValidator2019"}]
    return credential


def _with_1edtech_schema_and_extensions(credential: dict[str, Any]) -> dict[str, Any]:
    credential["@context"].append(EXTENSIONS_CONTEXT)
    return _with_1edtech_schema(credential)


def _with_vc2_json_schema(credential: dict[str, Any]) -> dict[str, Any]:
    credential["credentialSchema"] = [{"id": SCHEMA_URL, "type": "JsonSchema"}]
    return credential


# label -> (shape, does Digital Bazaar accept it under eddsa-rdfc-2022?)
SHAPES = {
    "undefined-term": (_with_undefined_term, False),
    "1edtech-schema-type": (_with_1edtech_schema, False),
    "1edtech-schema-type+extensions-context": (_with_1edtech_schema_and_extensions, True),
    "vc2-JsonSchema-type": (_with_vc2_json_schema, True),
}
DROPPING_SHAPES = [label for label, (_, accepted) in SHAPES.items() if not accepted]


@pytest.fixture(scope="module")
def shape_verdicts(merito_signer: Signer, db_did: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (shape, suite): Digital Bazaar signing it itself, and verifying Merito's signature.

    ``merito`` is None when Merito refuses to sign the shape."""
    keys = [(label, suite) for label in SHAPES for suite in SUITES]
    sign_requests = [
        {
            "credential": SHAPES[label][0](ob3_credential(db_did)),
            "key": {"seed": DB_SEED.hex()},
            "cryptosuite": suite,
            "created": CREATED_ISO,
        }
        for label, suite in keys
    ]
    merito_signed: dict[tuple[str, str], dict[str, Any]] = {}
    for label, suite in keys:
        credential = SHAPES[label][0](ob3_credential(merito_signer.controller))
        try:
            merito_signed[(label, suite)] = data_integrity.sign(
                credential, signer=merito_signer, cryptosuite=suite, created=CREATED
            )
        except ProofError:
            continue
    db_signing = run_node("sign.mjs", sign_requests)
    db_verifying = dict(
        zip(
            merito_signed,
            run_node("verify.mjs", [{"credential": d} for d in merito_signed.values()]),
            strict=True,
        )
    )
    return {
        key: {"db_sign": signing, "db_verify_merito": db_verifying.get(key)}
        for key, signing in zip(keys, db_signing, strict=True)
    }


@pytest.mark.parametrize("label", SHAPES)
def test_digitalbazaar_safe_mode_verdicts(
    shape_verdicts: dict[tuple[str, str], dict[str, Any]], label: str
) -> None:
    accepted_under_rdfc = SHAPES[label][1]
    rdfc = shape_verdicts[(label, "eddsa-rdfc-2022")]
    assert rdfc["db_sign"]["ok"] is accepted_under_rdfc, rdfc["db_sign"]
    if not accepted_under_rdfc:
        assert "Safe mode validation error" in rdfc["db_sign"]["errorText"]
    verdict = rdfc["db_verify_merito"]
    if verdict is None:  # Merito refused to sign: it may do so only where DB refuses too
        assert not accepted_under_rdfc
    else:
        assert verdict["verified"] is accepted_under_rdfc, verdict["errorText"]
        if not accepted_under_rdfc:
            assert "Safe mode validation error" in verdict["errorText"]
    jcs = shape_verdicts[(label, "eddsa-jcs-2022")]
    assert jcs["db_sign"]["ok"], jcs["db_sign"]
    assert jcs["db_verify_merito"] is not None, "Merito must sign any JSON under eddsa-jcs-2022"
    assert jcs["db_verify_merito"]["verified"], jcs["db_verify_merito"]["errorText"]


@pytest.mark.parametrize("label", DROPPING_SHAPES)
def test_merito_refuses_to_sign_dropped_terms(merito_signer: Signer, label: str) -> None:
    credential = SHAPES[label][0](ob3_credential(merito_signer.controller))
    with pytest.raises(ProofError):
        data_integrity.sign(
            credential, signer=merito_signer, cryptosuite="eddsa-rdfc-2022", created=CREATED
        )


# --- what Merito issues by default --------------------------------------------------------


def merito_default_credential(
    issuer_did: str, *, extra_contexts: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A credential as merito.formats.ob3.build_credential writes it, revocable by status list."""
    return build_credential(
        credential_id="urn:uuid:0b3c9a4e-7f51-4c8e-9d0f-1a2b3c4d5e6f",
        issuer=Profile(id=issuer_did, name="Merito Institute of Technology"),
        achievement=Achievement(
            id="https://merito.example/achievements/teamwork",
            name="Teamwork",
            description="Collaborates within a group environment.",
            criteria=Criteria(narrative="Nominated by peers, confirmed by a reviewer."),
        ),
        recipient="did:example:ebfeb1f712ebc6f1c276e12ec21",
        valid_from=CREATED,
        credential_status=bitstring_status_list_entry(
            status_list_credential="https://merito.example/status/1", index=94567
        ),
        extra_contexts=extra_contexts,
    )


@pytest.fixture(scope="module")
def default_shape_verdicts(merito_signer: Signer) -> dict[str, dict[str, Any]]:
    labels: list[str] = []
    requests: list[dict[str, Any]] = []
    for variant, contexts in (("default", ()), ("with-extensions", (EXTENSIONS_CONTEXT,))):
        credential = merito_default_credential(merito_signer.controller, extra_contexts=contexts)
        for suite in SUITES:
            signed = data_integrity.sign(
                credential, signer=merito_signer, cryptosuite=suite, created=CREATED
            )
            assert all(r.verified for r in merito_verify(signed))
            labels.append(f"{variant}/{suite}")
            requests.append({"credential": signed})
    return dict(zip(labels, run_node("verify.mjs", requests), strict=True))


@pytest.mark.parametrize(
    "suite",
    [
        "eddsa-rdfc-2022",
        "eddsa-jcs-2022",
    ],
)
def test_digitalbazaar_verifies_merito_default_credential(
    default_shape_verdicts: dict[str, dict[str, Any]], suite: str
) -> None:
    verdict = default_shape_verdicts[f"default/{suite}"]
    assert verdict["verified"], verdict["errorText"]


@pytest.mark.parametrize("suite", SUITES)
def test_digitalbazaar_verifies_merito_credential_with_extensions_context(
    default_shape_verdicts: dict[str, dict[str, Any]], suite: str
) -> None:
    verdict = default_shape_verdicts[f"with-extensions/{suite}"]
    assert verdict["verified"], verdict["errorText"]
    assert verdict["statusChecked"] is False  # the status list is not fetched offline
