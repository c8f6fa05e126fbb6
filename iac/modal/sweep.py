"""The recovery sweep on a Modal schedule: `node /app/dist/functions/sweep.js` every minute.

Deploy (Python with the `modal` package; not needed anywhere else in this project):

    DVAR_MODAL_GIT_URL=https://github.com/<org>/<repo>.git DVAR_MODAL_GIT_COMMIT=<40-hex> \
        modal deploy iac/modal/sweep.py
    # or DVAR_MODAL_IMAGE=<prebuilt tag> instead of the git pair

The image is the slices' image (same `deployment.json`, same commit), without a GPU. The sweep
reads the same DVAR_* settings as the API server (DVAR_STORE=s3, DVAR_S3_*, DVAR_DISPATCHER=modal,
DVAR_MODAL_GIT_URL/COMMIT or DVAR_MODAL_IMAGE, DVAR_SWEEP_*), from the Modal secret
`dvar-sweep-env`, and the credentials from the secrets `deployment.json` names. Each run is one
pass: dead slices are dispatched again as sandboxes, due webhook deliveries get one attempt.
Overlapping runs are harmless (docs/DEPLOY.md, section 4).
"""

import json
import os
import pathlib
import subprocess

import modal

DEPLOYMENT = json.loads((pathlib.Path(__file__).parent / "deployment.json").read_text())


def sweep_image() -> modal.Image:
    prebuilt = os.environ.get("DVAR_MODAL_IMAGE")
    if prebuilt:
        return modal.Image.from_registry(prebuilt).env(DEPLOYMENT["env"])
    url, commit = os.environ["DVAR_MODAL_GIT_URL"], os.environ["DVAR_MODAL_GIT_COMMIT"]
    commands = [c.replace("{{gitUrl}}", url).replace("{{gitCommit}}", commit) for c in DEPLOYMENT["image"]["commands"]]
    return modal.Image.from_registry(DEPLOYMENT["image"]["registry"]).dockerfile_commands(commands).env(DEPLOYMENT["env"])


app = modal.App(f"{DEPLOYMENT['app']}-sweep")


@app.function(
    image=sweep_image(),
    schedule=modal.Period(minutes=1),
    secrets=[modal.Secret.from_name(name) for name in [*DEPLOYMENT["secrets"], "dvar-sweep-env"]],
    # Creating a sandbox can wait up to 21 minutes for capacity; webhook attempts take up to 10 s each.
    timeout=30 * 60,
    cpu=1,
)
def sweep() -> None:
    subprocess.run(["node", f"{DEPLOYMENT['workdir']}/dist/functions/sweep.js"], cwd=DEPLOYMENT["workdir"], check=True)
