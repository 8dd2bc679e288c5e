#!/usr/bin/env python3
# Regenerates vectors.json with virtee/sev-snp-measure (the reference), never with cocod code.
# Usage (see README.md): gen_reference.py SEV_SNP_MEASURE_CHECKOUT > vectors.json
import base64
import json
import os
import subprocess
import sys

ssm = os.path.abspath(sys.argv[1])
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ssm)
from sevsnpmeasure import id_block as ref  # noqa: E402

commit = subprocess.run(["git", "-C", ssm, "rev-parse", "HEAD"], capture_output=True,
                        text=True).stdout.strip() or "8f2b337e38bc83f87cd30f3253cdfe8e3e12cc3a"


def b64(b):
    return base64.b64encode(b).decode()


def cli_vector(name, ld_hex, id_key, author_key):
    """Run snp-create-id-block exactly as a user would and parse what it prints."""
    ld_b64 = b64(bytes.fromhex(ld_hex))
    argv = ["python3", "snp-create-id-block.py", "--measurement", ld_b64,
            "--idkey", os.path.join(here, id_key), "--authorkey", os.path.join(here, author_key)]
    out = subprocess.run(argv, cwd=ssm, check=True, capture_output=True, text=True).stdout
    lines = out.strip().split("\n")
    blk, auth = lines[0].split(",")
    assert blk.startswith("id-block=") and auth.startswith("id-auth=")
    idk = lines[1].split(": ")[1]
    ak = lines[2].split(": ")[1]
    return {
        "name": name,
        "how": "snp-create-id-block.py --measurement %s --idkey %s --authorkey %s"
               % (ld_b64, id_key, author_key),
        "measurement": ld_hex,
        "family_id": "00" * 16, "image_id": "00" * 16, "guest_svn": 0, "policy": "0x30000",
        "id_key": id_key, "author_key": author_key,
        "id_block": blk[len("id-block="):],
        "id_auth": auth[len("id-auth="):],
        "id_key_digest": base64.b64decode(idk).hex(),
        "author_key_digest": base64.b64decode(ak).hex(),
    }


def module_vector(name, ld_hex, family, image, svn, policy, id_key, author_key):
    """Non-default fields: the reference CLI fixes them, so compose its own structures and
    signing functions the way its snp_calc_id_block does."""
    blk = ref.IdBlock(launch_digest=ref.LaunchDigest.from_buffer_copy(bytes.fromhex(ld_hex)),
                      ids=bytes.fromhex(family) + bytes.fromhex(image),
                      version=ref.DefaultVersion, guest_svn=svn.to_bytes(4, "little"),
                      policy=policy)
    idp = ref.load_private_key_from_pem_file(os.path.join(here, id_key))
    ap = ref.load_private_key_from_pem_file(os.path.join(here, author_key))
    auth = ref.IdAuth(
        id_key_algo=ref.DefaultKeyAlgo, auth_key_algo=ref.DefaultKeyAlgo,
        block_sig=ref.ECSignature.from_buffer_copy(ref.sign_in_snp_format(idp, bytes(blk))),
        id_key=ref.ECPubKey.from_buffer_copy(ref.marshal_ec_public_key(idp)),
        id_key_sig=ref.ECSignature.from_buffer_copy(
            ref.sign_in_snp_format(ap, ref.marshal_ec_public_key(idp))),
        author_key=ref.ECPubKey.from_buffer_copy(ref.marshal_ec_public_key(ap)))
    # IdBlock.ids and .guest_svn are ctypes c_char arrays, which stop copying at the first NUL
    # byte (sev-snp-measure 0.0.13): pick values where that cannot bite, and check.
    assert bytes(blk)[0x30:0x50] == bytes.fromhex(family + image), "reference truncated ids"
    assert bytes(blk)[0x54:0x58] == svn.to_bytes(4, "little"), "reference truncated svn"
    return {
        "name": name,
        "how": "sevsnpmeasure.id_block IdBlock/IdAuth/sign_in_snp_format/marshal_ec_public_key/"
               "pub_to_digest composed as in snp_calc_id_block (gen_reference.py module_vector)",
        "measurement": ld_hex, "family_id": family, "image_id": image, "guest_svn": svn,
        "policy": hex(policy), "id_key": id_key, "author_key": author_key,
        "id_block": b64(bytes(blk)), "id_auth": b64(bytes(auth)),
        "id_key_digest": ref.pub_to_digest(idp).hex(),
        "author_key_digest": ref.pub_to_digest(ap).hex(),
    }


# 803f69...: snpctl measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf
# ovmf_AmdSev_suffix.bin --kernel /dev/null --initrd /dev/null --append "console=ttyS0
# loglevel=7" --guest-features 0x21 (tests/integration/test_snpctl.c).
LD1 = "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977"
# 19358b...: the same firmware, --vcpu-family 23 --vcpu-model 1 --vcpu-stepping 2, no kernel.
LD2 = "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d"
vectors = [
    cli_vector("cli-defaults", LD1, "id_key.pem", "author_key.pem"),
    cli_vector("cli-keys-swapped", LD2, "author_key.pem", "id_key.pem"),
    module_vector("module-fields", LD2, "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                  "0f1e2d3c4b5a69788796a5b4c3d2e1f0", 0x01020304, 0x70000 | 0x0105,
                  "id_key.pem", "author_key.pem"),
]
json.dump({"source": "virtee/sev-snp-measure %s (sevsnpmeasure/id_block.py), run by "
                     "tests/data/snp/idblock/gen_reference.py; see README.md" % commit,
           "vectors": vectors}, sys.stdout, indent=1)
sys.stdout.write("\n")
