"""Package layout that pyproject.toml cannot express on its own (everything else is there):

- the repository's ``domains/`` folder installs under the owned import name ``multigen_domains``
  (a bare ``domains`` could clash with any other distribution);
- the shipped configs are package data under ``multigen/configs/`` (the top-level ``configs/``
  is a link to it), one data-only package per folder, read with ``importlib.resources``;
- the pretrained models (``multigen/zoo/models/<name>/``: weights, config, card, manifest)
  are package data of ``multigen.zoo``; the metrics' feature networks (the digit CNN, the
  shapes FPD network: ``domains/<domain>/weights/``) are package data of their domain.
"""

from setuptools import find_namespace_packages, find_packages, setup

domain_packages = [
    "multigen_domains" + p[len("domains") :] for p in find_packages(include=["domains*"])
]
config_packages = find_namespace_packages(include=["multigen.configs*"])

setup(
    packages=find_packages(include=["multigen*"]) + config_packages + domain_packages,
    package_dir={"multigen_domains": "domains"},
    package_data={
        **{p: ["*.yaml"] for p in config_packages},
        "multigen.zoo": ["models/*/*"],
        "multigen_domains.images": ["weights/*.safetensors"],
        "multigen_domains.shapes": ["weights/*.safetensors"],
    },
)
