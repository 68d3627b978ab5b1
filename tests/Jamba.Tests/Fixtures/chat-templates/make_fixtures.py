#!/usr/bin/env python3
"""Writes expected.json: every template in templates/ rendered on every conversation in conversations.json by
transformers' own chat-template renderer (`render_jinja_template`, which compiles with `_compile_jinja_template`:
an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loopcontrols, transformers' tojson,
raise_exception and strftime_now).

Usage: python3 make_fixtures.py TRANSFORMERS_SRC   (the folder holding src/transformers/utils/chat_template_utils.py)

Only chat_template_utils.py is loaded from the transformers tree. Its two sibling imports, `logging` and
`import_utils`, pull in huggingface_hub and tqdm at import time, so minimal stand-ins are registered for them
(a standard logger; jinja available, torch and vision not), which do not take part in rendering.
Requires jinja2 >= 3.1 (Debian: python3-jinja2) and packaging (python3-packaging).
"""
import importlib.util
import json
import logging
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))


def load_chat_template_utils(transformers_src):
    utils_dir = os.path.join(transformers_src, "src", "transformers", "utils")
    path = os.path.join(utils_dir, "chat_template_utils.py")
    package = types.ModuleType("transformers")
    package.__path__ = [os.path.dirname(utils_dir)]
    utils = types.ModuleType("transformers.utils")
    utils.__path__ = [utils_dir]
    log = types.ModuleType("transformers.utils.logging")
    log.get_logger = logging.getLogger
    imports = types.ModuleType("transformers.utils.import_utils")
    imports.is_jinja_available = lambda: True
    imports.is_torch_available = lambda: False
    imports.is_vision_available = lambda: False
    utils.logging = log
    for name, module in [("transformers", package), ("transformers.utils", utils),
                         ("transformers.utils.logging", log), ("transformers.utils.import_utils", imports)]:
        sys.modules[name] = module
    spec = importlib.util.spec_from_file_location("transformers.utils.chat_template_utils", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ctu = load_chat_template_utils(sys.argv[1])
    import jinja2

    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        spec = json.load(f)
    families = []
    for family in spec["families"]:
        with open(os.path.join(HERE, "templates", family["template"]), encoding="utf-8") as f:
            template = f.read()
        cases = []
        for conv in spec["conversations"]:
            kwargs = {**family["special_tokens"], **family.get("variables", {}), **conv.get("variables", {})}
            case = {"conversation": conv["name"]}
            try:
                rendered, _ = ctu.render_jinja_template(
                    conversations=[conv["messages"]],
                    tools=conv.get("tools"),
                    documents=conv.get("documents"),
                    chat_template=template,
                    add_generation_prompt=conv.get("add_generation_prompt", True),
                    **kwargs,
                )
                case["expected"] = rendered[0]
            except Exception as e:
                # raise_exception raises the base TemplateError; UndefinedError is a subclass; a template can also
                # fail with a plain Python TypeError (e.g. iterating None).
                case["error"] = type(e).__name__
                case["message"] = str(e)
            cases.append(case)
        families.append({"name": family["name"], "template": family["template"], "cases": cases})
    # Short templates that pin down single behaviours (whitespace control, scoping, printing, filters, errors).
    with open(os.path.join(HERE, "snippets.json"), encoding="utf-8") as f:
        snippets = json.load(f)
    snippet_results = []
    for snippet in snippets:
        result = {"template": snippet["t"], "variables": snippet.get("v", {})}
        try:
            result["expected"] = ctu._compile_jinja_template(snippet["t"]).render(**snippet.get("v", {}))
        except Exception as e:  # syntax errors, undefined errors, Python TypeErrors, the template's TemplateError
            result["error"] = type(e).__name__
            result["message"] = str(e)
            if getattr(e, "lineno", None) is not None:
                result["line"] = e.lineno
        snippet_results.append(result)
    out = {"generator": "make_fixtures.py", "jinja2": jinja2.__version__, "families": families, "snippets": snippet_results}
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
