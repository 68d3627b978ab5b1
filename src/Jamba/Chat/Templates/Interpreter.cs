using System.Text;

namespace Jamba.Chat.Templates;

/// <summary>
/// Renders a parsed template: runs the statements, evaluates expressions with Python semantics and writes the
/// output. The globals are jinja2's <c>range</c>, <c>dict</c>, <c>namespace</c> and transformers'
/// <c>raise_exception</c> and <c>strftime_now</c>. Errors carry the template line of the expression at fault.
/// </summary>
internal sealed class Interpreter
{
    private const int MaxMacroDepth = 256;
    private const long MaxRange = 100_000;

    private enum Flow { Normal, Break, Continue }

    private readonly Func<DateTime> _now;
    private int _macroDepth;

    private Interpreter(Func<DateTime> now) => _now = now;

    public static string Render(IReadOnlyList<Stmt> body, IReadOnlyDictionary<string, object?> variables, Func<DateTime> now)
    {
        var interpreter = new Interpreter(now);
        var globals = new Scope(null);
        interpreter.AddGlobals(globals);
        var root = new Scope(globals);
        foreach (var (name, value) in variables) root.Set(name, value);
        var output = new StringBuilder();
        interpreter.Exec(body, root, output);
        return output.ToString();
    }

    private void AddGlobals(Scope globals)
    {
        globals.Set("range", new BuiltinFunction("range", Range));
        globals.Set("dict", new BuiltinFunction("dict", args => MergeDicts("dict", args)));
        globals.Set("namespace", new BuiltinFunction("namespace", args =>
        {
            var ns = new Namespace();
            foreach (var (key, value) in MergeDicts("namespace", args)) ns.Attributes[key] = value;
            return ns;
        }));
        globals.Set("raise_exception", new BuiltinFunction("raise_exception", args =>
            throw new TemplateRaisedException(Python.Str(args.Check("raise_exception", 1, "message").Get(0, "message")))));
        globals.Set("strftime_now", new BuiltinFunction("strftime_now", args =>
            Strftime.Format(_now(), args.Check("strftime_now", 1, "format").Get(0, "format") as string
                ?? throw new TemplateRuntimeException("strftime_now() needs a format string"))));
    }

    private static object? Range(CallArgs args)
    {
        args.Check("range", 3);
        var ints = args.Positional.Select(a => a is long or bool ? Convert.ToInt64(a) : throw new TemplateRuntimeException(
            $"'{Python.TypeName(a)}' object cannot be interpreted as an integer")).ToArray();
        var (start, stop, step) = ints.Length switch
        {
            1 => (0L, ints[0], 1L),
            2 => (ints[0], ints[1], 1L),
            3 => (ints[0], ints[1], ints[2]),
            _ => throw new TemplateRuntimeException("range expected at least 1 argument, got 0"),
        };
        if (step == 0) throw new TemplateRuntimeException("range() arg 3 must not be zero");
        long count = Math.Max(0, (stop - start + step + (step > 0 ? -1 : 1)) / step);
        if (count > MaxRange) throw new TemplateRuntimeException($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        return Enumerable.Range(0, (int)count).Select(i => (object?)(start + i * step)).ToList();
    }

    private static PyDict MergeDicts(string function, CallArgs args)
    {
        var result = new PyDict();
        foreach (var positional in args.Positional)
        {
            if (positional is not PyDict d) throw new TemplateRuntimeException($"{function}() positional arguments must be mappings");
            foreach (var (key, value) in d) result[key] = value;
        }
        foreach (var (key, value) in args.Keywords) result[key] = value;
        return result;
    }

    // ---- statements ------------------------------------------------------------------------------------------

    private Flow Exec(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            Flow flow;
            try
            {
                flow = ExecOne(stmt, scope, output);
            }
            catch (TemplateException e) when (e.Line == 0)
            {
                e.Line = stmt.Line;
                throw;
            }
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow ExecOne(Stmt stmt, Scope scope, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt text:
                output.Append(text.Text);
                return Flow.Normal;
            case PrintStmt print:
                output.Append(Python.Str(Eval(print.Value, scope)));
                return Flow.Normal;
            case IfStmt branches:
                foreach (var (test, body) in branches.Branches)
                    if (Python.Truthy(Eval(test, scope))) return Exec(body, scope, output);
                return Exec(branches.Else, scope, output);
            case ForStmt loop:
                ExecFor(loop, scope, output);
                return Flow.Normal;
            case SetStmt set:
                ExecSet(set, scope);
                return Flow.Normal;
            case MacroStmt macro:
                scope.Set(macro.Name, new Macro(macro, scope));
                return Flow.Normal;
            case LoopControlStmt control:
                return control.IsBreak ? Flow.Break : Flow.Continue;
            case GenerationStmt generation:
                return Exec(generation.Body, scope, output);
        }
        throw new TemplateRuntimeException($"Unsupported statement {stmt.GetType().Name}", stmt.Line);
    }

    private void ExecFor(ForStmt loop, Scope scope, StringBuilder output)
    {
        var iterable = Eval(loop.Iterable, scope);
        if (iterable is null) throw new TemplateRuntimeException("'NoneType' object is not iterable", loop.Iterable.Line);
        var items = Python.Iterate(iterable).ToList();
        if (loop.Filter is not null)
        {
            items = items.Where(item =>
            {
                var filterScope = new Scope(scope);
                Bind(loop.Targets, loop.Unpack, item, filterScope);
                return Python.Truthy(Eval(loop.Filter, filterScope));
            }).ToList();
        }
        if (items.Count == 0)
        {
            Exec(loop.Else, scope, output);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            var iteration = new Scope(scope);
            Bind(loop.Targets, loop.Unpack, items[i], iteration);
            iteration.Set("loop", new LoopContext(items, i));
            if (Exec(loop.Body, iteration, output) == Flow.Break) break;
        }
    }

    private static void Bind(IReadOnlyList<string> targets, bool unpack, object? value, Scope scope)
    {
        if (!unpack)
        {
            scope.Set(targets[0], value);
            return;
        }
        var parts = value is string s ? Python.Iterate(s).ToList() : Python.AsSequence(value)
            ?? throw new TemplateRuntimeException($"cannot unpack non-iterable {Python.TypeName(value)} object");
        if (parts.Count != targets.Count)
            throw new TemplateRuntimeException(parts.Count > targets.Count
                ? $"too many values to unpack (expected {targets.Count})"
                : $"not enough values to unpack (expected {targets.Count}, got {parts.Count})");
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
    }

    private void ExecSet(SetStmt set, Scope scope)
    {
        object? value;
        if (set.Body is not null)
        {
            var sb = new StringBuilder();
            Exec(set.Body, scope, sb);
            value = sb.ToString();
        }
        else value = Eval(set.Value!, scope);
        if (set.Attribute is not null)
        {
            if (!scope.TryGet(set.Targets[0], out var target) || target is not Namespace ns)
                throw new TemplateRuntimeException($"Cannot assign attribute '{set.Attribute}' on '{set.Targets[0]}': it is not a namespace object", set.Line);
            ns.Attributes[set.Attribute] = value;
            return;
        }
        Bind(set.Targets, set.Targets.Count > 1, value, scope);
    }

    // ---- expressions -----------------------------------------------------------------------------------------

    private object? Eval(Expr expr, Scope scope)
    {
        try
        {
            return EvalCore(expr, scope);
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            e.Line = expr.Line;
            throw;
        }
        catch (Exception e) when (e is not TemplateException)
        {
            throw new TemplateRuntimeException(e.Message, expr.Line);
        }
    }

    private object? EvalCore(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case Const c: return c.Value;
            case Name n: return scope.TryGet(n.Id, out var value) ? value : Undefined.Variable(n.Id);
            case ListExpr list: return list.Items.Select(x => Eval(x, scope)).ToList();
            case TupleExpr tuple: return new PyTuple(tuple.Items.Select(x => Eval(x, scope)).ToList());
            case DictExpr dict:
                var result = new PyDict();
                foreach (var (key, item) in dict.Pairs)
                    result[Eval(key, scope) ?? throw new TemplateRuntimeException("None cannot be a dict key here")] = Eval(item, scope);
                return result;
            case GetAttr attr: return GetAttr(Eval(attr.Target, scope), attr.Attribute);
            case GetItem item when item.Key is SliceExpr slice:
                return Python.Slice(Eval(item.Target, scope), EvalOptional(slice.Start, scope), EvalOptional(slice.Stop, scope), EvalOptional(slice.Step, scope));
            case GetItem item: return GetItem(Eval(item.Target, scope), Eval(item.Key, scope));
            case SliceExpr: throw new TemplateRuntimeException("A slice is only valid inside brackets");
            case Call call: return Invoke(Eval(call.Callee, scope), EvalArgs(call.Args, scope));
            case FilterExpr filter: return Filters.Apply(this, filter.Filter, Eval(filter.Value, scope), EvalArgs(filter.Args, scope));
            case TestExpr test: return TestFunctions.Apply(test.Test, Eval(test.Value, scope), EvalArgs(test.Args, scope)) != test.Negated;
            case Unary { Op: "not" } not: return !Python.Truthy(Eval(not.Operand, scope));
            case Unary unary: return Python.Negate(Eval(unary.Operand, scope), unary.Op == "-");
            case Binary { Op: "and" } and:
                var left = Eval(and.Left, scope);
                return Python.Truthy(left) ? Eval(and.Right, scope) : left;
            case Binary { Op: "or" } or:
                var first = Eval(or.Left, scope);
                return Python.Truthy(first) ? first : Eval(or.Right, scope);
            case Binary { Op: "~" } concat: return Python.Str(Eval(concat.Left, scope)) + Python.Str(Eval(concat.Right, scope));
            case Binary binary: return Python.Arithmetic(binary.Op, Eval(binary.Left, scope), Eval(binary.Right, scope));
            case Compare compare: return EvalCompare(compare, scope);
            case Conditional cond:
                if (Python.Truthy(Eval(cond.Test, scope))) return Eval(cond.Then, scope);
                return cond.Otherwise is null
                    ? Undefined.WithHint($"the inline if-expression on line {cond.Line} evaluated to false and no else section was defined.")
                    : Eval(cond.Otherwise, scope);
        }
        throw new TemplateRuntimeException($"Unsupported expression {expr.GetType().Name}");
    }

    private object? EvalOptional(Expr? expr, Scope scope) => expr is null ? null : Eval(expr, scope);

    private bool EvalCompare(Compare compare, Scope scope)
    {
        var left = Eval(compare.First, scope);
        foreach (var (op, operand) in compare.Rest)
        {
            var right = Eval(operand, scope);
            bool ok = op switch
            {
                "==" => Python.Equal(left, right),
                "!=" => !Python.Equal(left, right),
                "in" => Python.Contains(right, left),
                "not in" => !Python.Contains(right, left),
                "<" => Python.Compare(left, right, op) < 0,
                "<=" => Python.Compare(left, right, op) <= 0,
                ">" => Python.Compare(left, right, op) > 0,
                _ => Python.Compare(left, right, op) >= 0,
            };
            if (!ok) return false;
            left = right;
        }
        return true;
    }

    private CallArgs EvalArgs(Arguments args, Scope scope)
    {
        if (args == Arguments.None) return CallArgs.Empty;
        var positional = args.Positional.Select(x => Eval(x, scope)).ToList();
        if (args.Star is not null) positional.AddRange(Python.Iterate(Eval(args.Star, scope)));
        var keywords = args.Keywords.Select(k => new KeyValuePair<string, object?>(k.Name, Eval(k.Value, scope))).ToList();
        if (args.DoubleStar is not null)
        {
            if (Eval(args.DoubleStar, scope) is not PyDict kwargs) throw new TemplateRuntimeException("argument after ** must be a mapping");
            keywords.AddRange(kwargs.Select(kv => new KeyValuePair<string, object?>(Python.Str(kv.Key), kv.Value)));
        }
        return new CallArgs(positional, keywords);
    }

    /// <summary>jinja2's <c>getattr</c>: the attribute (a method, a namespace or loop field), else the item, else undefined.</summary>
    private static object? GetAttr(object? target, string name)
    {
        switch (target)
        {
            case Undefined u: throw u.Error();
            case Namespace ns: return ns.Attributes.TryGetValue(name, out var value) ? value : Undefined.Member(target, name);
            case LoopContext loop: return loop.Get(name);
        }
        if (Methods.TryBind(target, name, out var method)) return method;
        if (target is PyDict dict && dict.TryGetValue(name, out var item)) return item;
        return Undefined.Member(target, name);
    }

    /// <summary>jinja2's <c>getitem</c>: the item, else (for a string key) the attribute, else undefined.</summary>
    private static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case Undefined u: throw u.Error();
            case PyDict dict when key is not null && dict.TryGetValue(key, out var value): return value;
            case string or List<object?> or PyTuple when key is long or bool:
                return Python.TryIndex(target, Convert.ToInt64(key), out var item) ? item : Undefined.Member(target, key);
        }
        if (key is string name) return GetAttr(target, name);
        return Undefined.Member(target, key ?? "None");
    }

    /// <summary>Attribute lookup as filters do it (<c>map(attribute="a.b")</c>): dotted parts, each an item lookup.</summary>
    public object? GetAttribute(object? target, object attribute)
    {
        if (attribute is not string path) return GetItem(target, attribute);
        foreach (string part in path.Split('.'))
            target = GetItem(target, long.TryParse(part, out long index) ? index : part);
        return target;
    }

    private object? Invoke(object? callee, CallArgs args) => callee switch
    {
        Macro macro => InvokeMacro(macro, args),
        BuiltinFunction function => function.Invoke(args),
        BoundMethod method => Methods.Call(method, args),
        Undefined u => throw u.Error(),
        _ => throw new TemplateRuntimeException($"'{Python.TypeName(callee)}' object is not callable"),
    };

    private string InvokeMacro(Macro macro, CallArgs args)
    {
        var def = macro.Definition;
        var scope = new Scope(macro.Closure);
        int n = def.Parameters.Count;
        if (args.Positional.Count > n && !def.UsesVarargs)
            throw new TemplateRuntimeException($"macro '{def.Name}' takes not more than {n} argument(s)");
        var bound = new bool[n];
        for (int i = 0; i < Math.Min(n, args.Positional.Count); i++)
        {
            scope.Set(def.Parameters[i], args.Positional[i]);
            bound[i] = true;
        }
        var extra = new PyDict();
        foreach (var (key, value) in args.Keywords)
        {
            int index = IndexOf(def.Parameters, key);
            if (index >= 0)
            {
                if (bound[index]) throw new TemplateRuntimeException($"macro '{def.Name}' got multiple values for argument '{key}'");
                scope.Set(key, value);
                bound[index] = true;
            }
            else if (def.UsesKwargs) extra[key] = value;
            else throw new TemplateRuntimeException($"macro '{def.Name}' takes no keyword argument '{key}'");
        }
        for (int i = 0; i < n; i++)
            if (!bound[i])
                scope.Set(def.Parameters[i], def.Defaults[i] is { } fallback
                    ? Eval(fallback, scope)
                    : Undefined.WithHint($"parameter '{def.Parameters[i]}' was not provided"));
        if (def.UsesVarargs) scope.Set("varargs", new PyTuple(args.Positional.Skip(n).ToList()));
        if (def.UsesKwargs) scope.Set("kwargs", extra);
        if (++_macroDepth > MaxMacroDepth) throw new TemplateRuntimeException($"macro '{def.Name}' recursed more than {MaxMacroDepth} levels");
        try
        {
            var output = new StringBuilder();
            Exec(def.Body, scope, output);
            return output.ToString();
        }
        finally
        {
            _macroDepth--;
        }
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
            if (list[i] == value) return i;
        return -1;
    }
}
