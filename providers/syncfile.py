"""The providers file (`manage.py sync_providers providers.yaml`): read and checked whole, each mistake
named with its line, before anything is written; then applied in one transaction. Its shape is part of the
public contract: docs/providers.md."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from providers import crypto
from providers.models import COMPLETION_CAPS, Deployment, Model, Price, Provider, ProviderKey
from quota.models import Plan

Node = yaml.Node


class FileInvalid(Exception):
    """The file is wrong: `problems` lists each mistake as (line, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = sorted(problems)


class _Problem(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.message = message


@dataclass
class KeyDecl:
    variable: str
    secret: str = field(repr=False)


@dataclass
class ProviderDecl:
    line: int
    name: str
    fields: dict[str, Any]  # Provider's fields as the file sets them (defaults filled in)
    keys: list[KeyDecl]


@dataclass(frozen=True)
class PriceDecl:
    """Per million tokens, in CHATGATEWAY_CURRENCY; `cached_input` None: the input price."""

    input: Decimal
    cached_input: Decimal | None
    output: Decimal


@dataclass
class DeploymentDecl:
    line: int
    provider: str
    upstream_model: str
    priority: int
    weight: int
    enabled: bool
    price: PriceDecl | None = None


@dataclass
class ModelDecl:
    line: int
    name: str
    description: str
    enabled: bool
    plans: list[str]
    deployments: list[DeploymentDecl]
    price: PriceDecl | None = None


@dataclass
class Declaration:
    providers: list[ProviderDecl]
    models: list[ModelDecl]


# --- Reading nodes ----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader

    def field(self, fields: dict[str, Node], name: str, read: Callable[..., Any], default: Any, **kwargs: Any) -> Any:
        """`read(fields[name])`, its problem prefixed with the field's name; `default` if it is absent."""
        if name not in fields:
            return default
        try:
            return read(fields[name], **kwargs)
        except _Problem as problem:
            problem.message = f"{name}: {problem.message}"
            raise

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise _Problem(node, "expected a single value here")
        return self.loader.construct_object(node, deep=True)

    def text(self, node: Node) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or not value.strip():
            raise _Problem(node, "expected text here")
        return value.strip()

    def whole(self, node: Node, *, minimum: int) -> int:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Problem(node, f"expected a whole number of at least {minimum}")
        return value

    def number(self, node: Node) -> float | None:
        value = self.scalar(node)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise _Problem(node, "expected a number of seconds greater than 0")
        return float(value)

    def boolean(self, node: Node) -> bool:
        value = self.scalar(node)
        if not isinstance(value, bool):
            raise _Problem(node, "expected true or false")
        return value

    def items(self, node: Node) -> list[Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise _Problem(node, "expected a list here")
        return node.value

    def texts(self, node: Node) -> list[tuple[Node, str]]:
        return [(item, self.text(item)) for item in self.items(node)]

    def mapping(self, node: Node, known: set[str], what: str) -> dict[str, Node]:
        if not isinstance(node, yaml.MappingNode):
            raise _Problem(node, f"expected {what} (a mapping of fields) here")
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if key not in known:
                raise _Problem(key_node, f"unknown field {key!r} in {what} (known: {', '.join(sorted(known))})")
            if key in fields:
                raise _Problem(key_node, f"{key!r} is given twice")
            fields[key] = value_node
        return fields

    def required(self, fields: dict[str, Node], name: str, parent: Node, what: str) -> Node:
        if name not in fields:
            raise _Problem(parent, f"{what} needs {name!r}")
        return fields[name]


PROVIDER_FIELDS = {
    "name", "kind", "base_url", "api_version", "key_env", "headers", "timeout", "max_retries",
    "completion_cap", "endpoints", "enabled",
}  # fmt: skip
MODEL_FIELDS = {"name", "description", "enabled", "plans", "deployments", "price"}
DEPLOYMENT_FIELDS = {"provider", "model", "priority", "weight", "enabled", "price"}
PRICE_FIELDS = {"input", "cached_input", "output"}
# The Provider model's fields as the file names them, to put its validation errors on the right line.
FILE_NAME_OF = {"extra_headers": "headers", "upstream_model": "model"}


def parse(text: str, *, environ: dict[str, str] | None = None) -> Declaration:
    """The declaration in `text`, checked (but not against the database); FileInvalid if it is wrong."""
    environ = os.environ if environ is None else environ
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" ({error.context} on line {error.context_mark.line + 1})" if error.context_mark else ""
        message = f"not valid YAML: {error.problem or error}{where}"
        raise FileInvalid([((mark.line + 1) if mark else 0, message)]) from None
    except yaml.YAMLError as error:
        raise FileInvalid([(0, f"not valid YAML: {error}")]) from None
    try:
        if root is None:
            raise FileInvalid([(1, "the file is empty: it needs 'providers' and/or 'models'")])
        reader = _Reader(loader)
        problems: list[tuple[int, str]] = []
        try:
            top = reader.mapping(root, {"providers", "models"}, "the file")
        except _Problem as problem:
            raise FileInvalid([(problem.line, problem.message)]) from None
        providers = _each(reader, top.get("providers"), problems, lambda node: _provider(reader, node, environ))
        models = _each(reader, top.get("models"), problems, lambda node: _model(reader, node))
        if problems:
            raise FileInvalid(problems)
        return Declaration(providers=providers, models=models)
    finally:
        loader.dispose()


def _each(reader: _Reader, node: Node | None, problems: list, read: Callable[[Node], Any]) -> list:
    """Read each item of the list `node`, gathering the problems of all of them."""
    if node is None:
        return []
    try:
        items = reader.items(node)
    except _Problem as problem:
        problems.append((problem.line, problem.message))
        return []
    results = []
    for item in items:
        try:
            results.append(read(item))
        except _Problem as problem:
            problems.append((problem.line, problem.message))
        except FileInvalid as invalid:
            problems.extend(invalid.problems)
    return results


def _provider(reader: _Reader, node: Node, environ: dict[str, str]) -> ProviderDecl:
    fields = reader.mapping(node, PROVIDER_FIELDS, "a provider")
    name = reader.text(reader.required(fields, "name", node, "a provider"))
    values: dict[str, Any] = {
        "base_url": reader.text(reader.required(fields, "base_url", node, f"provider {name!r}")),
        "kind": reader.field(fields, "kind", reader.text, Provider.Kind.OPENAI.value),
        "api_version": reader.field(fields, "api_version", reader.text, ""),
        "extra_headers": reader.field(fields, "headers", lambda node: _headers(reader, node), {}),
        "timeout": reader.field(fields, "timeout", reader.number, None),
        "max_retries": reader.field(fields, "max_retries", reader.whole, None, minimum=0),
        "completion_cap": reader.field(fields, "completion_cap", reader.text, Provider.CompletionCap.MAX_TOKENS.value),
        "endpoints": [text for _, text in reader.field(fields, "endpoints", reader.texts, [(node, "chat")])],
        "enabled": reader.field(fields, "enabled", reader.boolean, True),
    }
    if values["completion_cap"] not in COMPLETION_CAPS:
        raise _Problem(
            fields["completion_cap"],
            f"completion_cap: {values['completion_cap']!r} is not one of {', '.join(COMPLETION_CAPS)}",
        )
    _validate_like_admin(Provider(name=name, **values), fields, node)
    keys = []
    for variable_node, variable in reader.field(fields, "key_env", reader.texts, []):
        secret = (environ.get(variable) or "").strip()
        if not secret:
            raise _Problem(variable_node, f"the environment variable {variable} (a key of {name!r}) is not set")
        keys.append(KeyDecl(variable=variable, secret=secret))
    return ProviderDecl(line=node.start_mark.line + 1, name=name, fields=values, keys=keys)


def _headers(reader: _Reader, node: Node) -> dict[str, str]:
    if not isinstance(node, yaml.MappingNode):
        raise _Problem(node, "headers are a mapping of names to values")
    return {str(reader.scalar(key)): str(reader.scalar(value)) for key, value in node.value}


def _validate_like_admin(obj: Any, fields: dict[str, Node], node: Node, *, exclude: tuple[str, ...] = ()) -> None:
    """The checks the admin makes (the model's validators and lengths), on the line of the field at fault."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field_name, messages = next(iter(error.message_dict.items()))
        at = fields.get(FILE_NAME_OF.get(field_name, field_name), node)
        raise _Problem(at, f"{FILE_NAME_OF.get(field_name, field_name)}: {' '.join(messages)}") from None


def _model(reader: _Reader, node: Node) -> ModelDecl:
    fields = reader.mapping(node, MODEL_FIELDS, "a model")
    name = reader.text(reader.required(fields, "name", node, "a model"))
    description = reader.field(fields, "description", reader.text, "")
    _validate_like_admin(Model(name=name, description=description), fields, node)
    deployments_node = reader.required(fields, "deployments", node, f"model {name!r}")
    deployments = [_deployment(reader, item) for item in reader.items(deployments_node)]
    if not deployments:
        raise _Problem(deployments_node, f"model {name!r} has no deployment")
    seen = set()
    for deployment in deployments:
        target = (deployment.provider, deployment.upstream_model)
        if target in seen:
            raise _Problem(deployments_node, f"model {name!r} lists {'/'.join(target)} twice")
        seen.add(target)
    return ModelDecl(
        line=node.start_mark.line + 1,
        name=name,
        description=description,
        enabled=reader.field(fields, "enabled", reader.boolean, True),
        plans=[text for _, text in reader.field(fields, "plans", reader.texts, [])],
        deployments=deployments,
        price=_price(reader, fields["price"]) if "price" in fields else None,
    )


def _deployment(reader: _Reader, node: Node) -> DeploymentDecl:
    fields = reader.mapping(node, DEPLOYMENT_FIELDS, "a deployment")
    deployment = DeploymentDecl(
        line=node.start_mark.line + 1,
        provider=reader.text(reader.required(fields, "provider", node, "a deployment")),
        upstream_model=reader.text(reader.required(fields, "model", node, "a deployment")),
        priority=reader.field(fields, "priority", reader.whole, 1, minimum=0),
        weight=reader.field(fields, "weight", reader.whole, 1, minimum=1),
        enabled=reader.field(fields, "enabled", reader.boolean, True),
        price=_price(reader, fields["price"]) if "price" in fields else None,
    )
    row = Deployment(upstream_model=deployment.upstream_model, priority=deployment.priority, weight=deployment.weight)
    _validate_like_admin(row, fields, node, exclude=("model", "provider"))
    return deployment


def _price(reader: _Reader, node: Node) -> PriceDecl:
    """`price: {input: 2.5, cached_input: 1.25, output: 10}`: per million tokens, at most six decimals."""
    fields = reader.mapping(node, PRICE_FIELDS, "a price")
    amounts = {
        name: _amount(reader, fields[name]) if name in fields else None for name in ("input", "cached_input", "output")
    }
    for name in ("input", "output"):
        if amounts[name] is None:
            raise _Problem(node, f"a price needs {name!r} (per million tokens)")
    _validate_like_admin(
        Price(model_name="-", valid_from=timezone.localdate(), **amounts), fields, node, exclude=("deployment",)
    )
    return PriceDecl(**amounts)


def _amount(reader: _Reader, node: Node) -> Decimal:
    value = reader.scalar(node)
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        amount = Decimal(str(value))  # str: a YAML float's digits as written, not its binary approximation
    except InvalidOperation:
        raise _Problem(node, "expected an amount per million tokens, e.g. 2.5") from None
    if not amount.is_finite() or amount < 0:
        raise _Problem(node, "expected an amount of 0 or more")
    return amount


def check_against_database(declaration: Declaration, *, prune: bool) -> None:
    """What the file refers to exists: providers of deployments, plans; names are not declared twice."""
    problems = []
    names: dict[str, int] = {}
    for provider in declaration.providers:
        if provider.name in names:
            problems.append(
                (provider.line, f"provider {provider.name!r} is declared twice (line {names[provider.name]})")
            )
        names.setdefault(provider.name, provider.line)
    known = set(names) if prune else set(names) | set(Provider.objects.values_list("name", flat=True))
    plans = set(Plan.objects.values_list("name", flat=True))
    model_lines: dict[str, int] = {}
    for model in declaration.models:
        if model.name in model_lines:
            problems.append((model.line, f"model {model.name!r} is declared twice (line {model_lines[model.name]})"))
        model_lines.setdefault(model.name, model.line)
        problems += [
            (model.line, f"model {model.name!r}: no plan is named {plan!r}")
            for plan in model.plans
            if plan not in plans
        ]
        problems += [
            (d.line, f"unknown provider {d.provider!r}" + ("" if prune else " (neither in the file nor configured)"))
            for d in model.deployments
            if d.provider not in known
        ]
    needs_encryption = any(provider.keys for provider in declaration.providers)
    if needs_encryption:
        try:
            crypto.encrypt("probe")
        except Exception as error:  # ImproperlyConfigured: no encryption key
            problems.append((0, str(error)))
    if problems:
        raise FileInvalid(problems)


# --- Applying ---------------------------------------------------------------------------------------


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    changes: int = 0

    def add(self, what: str, outcome: str) -> None:
        self.lines.append(f"{what}: {outcome}")
        if outcome != "unchanged":
            self.changes += 1


class _DryRun(Exception):
    pass


def apply(declaration: Declaration, *, prune: bool, dry_run: bool = False) -> Report:
    """Make the database say what the file says, in one transaction (rolled back for a dry run)."""
    report = Report()
    with contextlib.suppress(_DryRun):
        _apply(declaration, prune=prune, report=report, dry_run=dry_run)
    return report


def _apply(declaration: Declaration, *, prune: bool, report: Report, dry_run: bool) -> None:
    with transaction.atomic():
        providers = {decl.name: _apply_provider(decl, report) for decl in declaration.providers}
        for decl in declaration.models:
            _apply_model(decl, providers, report)
        if prune:
            for model in Model.objects.exclude(name__in=[decl.name for decl in declaration.models]):
                model.delete()
                report.add(f"model {model.name}", "deleted (--prune)")
            for provider in Provider.objects.exclude(name__in=list(providers)):
                provider.delete()
                report.add(f"provider {provider.name}", "deleted (--prune)")
        if dry_run:
            raise _DryRun


def _update(obj: Any, values: dict[str, Any]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _outcome(created: bool, changed: list[str]) -> str:
    if created:
        return "created"
    return f"updated ({', '.join(changed)})" if changed else "unchanged"


def _apply_provider(decl: ProviderDecl, report: Report) -> Provider:
    provider = Provider.objects.filter(name=decl.name).first()
    created = provider is None
    provider = provider or Provider(name=decl.name)
    changed = _update(provider, {**decl.fields, "managed_by_file": True})
    if created or changed:
        provider.save()
    report.add(f"provider {decl.name}", _outcome(created, changed))
    _apply_keys(provider, decl.keys, report)
    return provider


def _apply_keys(provider: Provider, keys: list[KeyDecl], report: Report) -> None:
    """Keys are matched by their secret; those the file no longer lists are disabled, not deleted."""
    stored = list(provider.keys.all())
    by_secret: dict[str, ProviderKey] = {}
    for key in stored:
        with contextlib.suppress(crypto.KeyUnreadable):  # no match possible: disabled below
            by_secret.setdefault(key.secret(), key)
    kept = set()
    for decl in keys:
        key = by_secret.get(decl.secret)
        if key is not None and key.pk in kept:
            continue  # two variables holding one key: one row
        created = key is None
        if created:
            key = ProviderKey(provider=provider)
            key.set_secret(decl.secret)
        changed = _update(key, {"label": decl.variable, "enabled": True})
        if created or changed:
            key.save()
        kept.add(key.pk)
        report.add(f"key {decl.variable} (…{key.last4}) of {provider.name}", _outcome(created, changed))
    for key in stored:
        if key.pk not in kept and key.enabled:
            key.enabled = False
            key.save(update_fields=["enabled"])
            report.add(f"key {key} of {provider.name}", "disabled (no longer in the file)")


def _apply_model(decl: ModelDecl, providers: dict[str, Provider], report: Report) -> None:
    model = Model.objects.filter(name=decl.name).first()
    created = model is None
    model = model or Model(name=decl.name)
    changed = _update(model, {"description": decl.description, "enabled": decl.enabled, "managed_by_file": True})
    if created or changed:
        model.save()
    plans = list(Plan.objects.filter(name__in=decl.plans))
    if {plan.pk for plan in plans} != set(model.plans.values_list("pk", flat=True)):
        model.plans.set(plans)
        changed.append("plans")
    changed += _apply_deployments(model, decl.deployments, providers)
    if decl.price is not None and _apply_price(decl.price, model_name=decl.name):
        changed.append("price")
    report.add(f"model {decl.name}", _outcome(created, changed))


def _apply_price(decl: PriceDecl, *, model_name: str = "", deployment: Deployment | None = None) -> bool:
    """Make the file's price the one in force from today, for the public model's name or the deployment;
    True if that changed anything. Earlier prices stay as they were (records keep what they were charged);
    a price already in force that equals the file's is left alone, so a second run changes nothing."""
    today = timezone.localdate()
    rows = Price.objects.filter(model_name=model_name, deployment=deployment, valid_from__lte=today)
    current = rows.order_by("-valid_from").first()
    wanted = {"input": decl.input, "cached_input": decl.cached_input, "output": decl.output}
    if current is not None and all(getattr(current, name) == value for name, value in wanted.items()):
        return False
    Price.objects.update_or_create(
        model_name=model_name,
        deployment=deployment,
        valid_from=today,
        defaults={**wanted, "note": "from the providers file"},
    )
    return True


def _apply_deployments(model: Model, decls: list[DeploymentDecl], providers: dict[str, Provider]) -> list[str]:
    """The model's deployments become exactly the file's: matched by provider and upstream model."""
    existing = {(d.provider.name, d.upstream_model): d for d in model.deployments.select_related("provider")}
    changed = False
    for decl in decls:
        deployment = existing.pop((decl.provider, decl.upstream_model), None)
        if deployment is None:
            provider = providers.get(decl.provider) or Provider.objects.get(name=decl.provider)
            deployment = Deployment(model=model, provider=provider, upstream_model=decl.upstream_model)
        values = {"priority": decl.priority, "weight": decl.weight, "enabled": decl.enabled}
        if _update(deployment, values) or deployment.pk is None:
            deployment.save()
            changed = True
        if decl.price is not None:
            changed = _apply_price(decl.price, deployment=deployment) or changed
    for deployment in existing.values():
        deployment.delete()
        changed = True
    return ["deployments"] if changed else []
