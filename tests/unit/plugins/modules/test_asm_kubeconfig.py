"""asm_kubeconfig run by ansible-playbook against the fake OpenAPI."""

import os
import stat

MESH = "c08ba3fd1e6484b0f8cc1ad8fe10d0000"


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def asm(**options):
    return {"ack.servicemesh.asm_kubeconfig": dict(dict(service_mesh_id=MESH), **options)}


def test_mesh_kubeconfig_is_written_and_idempotent(playbook, fake, tmp_path):
    token = fake.add_mesh(MESH)
    dest = tmp_path / "asm.yaml"

    first, second = playbook([asm(dest=str(dest), private_ip_address=True)] * 2).results()

    assert dest.read_text() == fake.mesh_kubeconfigs[MESH][True]
    assert "token: %s" % token in dest.read_text()
    assert mode(dest) == 0o600
    assert (first["changed"], second["changed"]) == (True, False)
    assert first["service_mesh_id"] == MESH
    assert all(r.query["ServiceMeshId"] == MESH for r in fake.requests)
