"""The hybrid plan as a LiteLLM proxy config: one ``model_list`` alias per workload.

A self-hosted workload's alias points at its deployment (``openai/<served model name>`` with
``api_base``: LiteLLM's OpenAI-compatible provider); an API workload's at the provider's model
(the catalog's ``api_model`` is a LiteLLM model key). Keys are ``os.environ/NAME`` references,
never values. Each entry's ``litellm_params`` is one line, with the other way (the cheapest
API, or the deployment) as a commented line beneath it: moving a workload between API and own
GPUs is swapping that one line. Applications call the proxy with ``model=<workload name>``.

Checked by LiteLLM's own parser (``litellm.Router(model_list=...)``, the call its proxy makes
on ``model_list``) in tests/test_deploy_router.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from selfhost.catalog.schema import ApiOffering, Catalog
from selfhost.escape import one_line

#: LiteLLM provider -> the environment variable its client reads for the key (litellm 1.110.2,
#: litellm/litellm_core_utils/get_llm_provider_logic.py lines 313-361 and 733-842, and each
#: provider's llms/<provider>/ module: get_secret_str("...")).
PROVIDER_KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "deepinfra": "DEEPINFRA_API_KEY",
    "groq": "GROQ_API_KEY",
    "nebius": "NEBIUS_API_KEY",
}
#: Catalog providers whose ``api_model`` carries no LiteLLM prefix (LiteLLM knows them by name).
UNPREFIXED_PROVIDERS = {"OpenAI": "openai", "Anthropic": "anthropic"}
SELF_HOSTED_PROVIDER = "openai"  # LiteLLM's OpenAI-compatible client, pointed at api_base


def litellm_provider(api: ApiOffering) -> str:
    """The LiteLLM provider of an API offering: its model key's prefix, or the provider by name."""
    prefix, _, rest = api.api_model.partition("/")
    if rest:
        return prefix
    return UNPREFIXED_PROVIDERS.get(api.provider, re.sub(r"[^a-z0-9]+", "_", api.provider.lower()))


def provider_key_env(provider: str) -> str:
    """The key's environment variable: LiteLLM's name where known, else PROVIDER_API_KEY."""
    return PROVIDER_KEY_ENV.get(provider, f"{provider.upper()}_API_KEY")


def self_hosted_key_env(deployment: str) -> str:
    """Environment variable holding the key of one self-hosted deployment's nginx."""
    return "SELFHOST_API_KEY_" + re.sub(r"[^A-Z0-9]+", "_", deployment.upper()).strip("_")


def api_params(api: ApiOffering) -> dict[str, str]:
    return {"model": api.api_model, "api_key": f"os.environ/{provider_key_env(litellm_provider(api))}"}


def self_hosted_params(served_name: str, base_url: str, deployment: str) -> dict[str, str]:
    return {
        "model": f"{SELF_HOSTED_PROVIDER}/{served_name}",
        "api_base": base_url,
        "api_key": f"os.environ/{self_hosted_key_env(deployment)}",
    }


def _flow(params: Mapping[str, str]) -> str:
    """One-line YAML mapping (JSON is YAML, and quotes every URL safely)."""
    return json.dumps(dict(params))


def router_entries(
    results: Sequence[Mapping[str, Any]], deployments: Sequence[Mapping[str, Any]], catalog: Catalog
) -> list[dict[str, Any]]:
    """Per workload: its alias, the params in use, the other way (None if there is none), why."""
    apis = {a.id: a for a in catalog.apis}
    by_model = {d["model"]: d for d in deployments}
    entries = []
    for r in results:
        alternative: dict[str, str] | None = None
        if r["choice"] == "self-hosted":
            params = self_hosted_params(r["model_name"], r["base_url"], r["deployment"])
            where = f"self-hosted on {r['deployment']} ({r['gpus_per_replica']}x {r['gpu']} {r['quant']})"
            if r["privacy_sensitive"]:
                other = "privacy-sensitive: no API alternative"
            elif r.get("cheapest_api") in apis:
                alternative = api_params(apis[r["cheapest_api"]])
                other = f"to the API {r['cheapest_api']} instead"
            else:
                other = "no comparable API in the catalog"
        else:
            api = apis[r["api"]]
            params = api_params(api)
            where = f"API {api.id}"
            model = r.get("model")
            if model and model in by_model:
                d = by_model[model]
                alternative = self_hosted_params(model, d["base_url"], d["deployment"])
                other = f"to the self-hosted {d['deployment']} instead"
            elif model:
                other = f"to own GPUs: `selfhost deploy -m {model} ...`, then point api_base at it"
            else:
                other = "a proprietary model: no open-weight twin to self-host"
        entries.append(
            {
                "model_name": r["workload"],
                "litellm_params": params,
                "alternative": alternative,
                "where": where,
                "other": other,
            }
        )
    return entries


def router_config(
    results: Sequence[Mapping[str, Any]], deployments: Sequence[Mapping[str, Any]], catalog: Catalog
) -> dict[str, Any]:
    """The config as data: ``{"model_list": [{"model_name", "litellm_params"}, ...]}``."""
    return {
        "model_list": [
            {"model_name": e["model_name"], "litellm_params": e["litellm_params"]}
            for e in router_entries(results, deployments, catalog)
        ]
    }


def router_yaml(
    results: Sequence[Mapping[str, Any]],
    deployments: Sequence[Mapping[str, Any]],
    catalog: Catalog,
    source: str = "",
) -> str:
    """The LiteLLM proxy config text, one alias per workload, the other way commented beside it."""
    lines = [
        one_line(
            f"# LiteLLM proxy config for the hybrid plan{' of ' + source if source else ''}, "
            "written by `selfhost plan --router litellm`."
        ),
        "# Run: litellm --config router.yaml; applications call it with model=<workload name>.",
        "# Move a workload: swap its litellm_params line for the commented one below it.",
        "# Keys are read from the environment (os.environ/NAME); none is stored here.",
        "model_list:",
    ]
    for e in router_entries(results, deployments, catalog):
        lines.append(one_line(f"  # {e['model_name']}: {e['where']}"))
        lines.append(f"  - model_name: {json.dumps(e['model_name'])}")
        lines.append(f"    litellm_params: {_flow(e['litellm_params'])}")
        if e["alternative"] is not None:
            lines.append(one_line(f"    # {e['other']}:"))
            lines.append(f"    # litellm_params: {_flow(e['alternative'])}")
        else:
            lines.append(one_line(f"    # {e['other']}"))
    text = "\n".join(lines) + "\n"
    expected = router_config(results, deployments, catalog)
    if yaml.safe_load(text) != expected:  # the hand-laid text must say exactly the data
        raise AssertionError("router YAML does not round-trip")
    return text
