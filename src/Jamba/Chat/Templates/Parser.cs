using System.Globalization;

namespace Jamba.Chat.Templates;

/// <summary>
/// Builds the syntax tree from tokens with jinja2's grammar and operator precedence (lowest first): conditional
/// expression, <c>or</c>, <c>and</c>, <c>not</c>, comparisons and <c>in</c>, <c>+ -</c>, <c>~</c>,
/// <c>* / // %</c>, <c>**</c>, unary <c>- +</c>, then primaries with <c>.attr</c>, <c>[key]</c>, calls, filters
/// and tests. Unknown filters, tests and tags are errors here, as jinja2 reports them when it compiles.
/// </summary>
internal sealed class Parser
{
    private static readonly HashSet<string> UnsupportedTags =
        ["block", "extends", "include", "import", "from", "call", "filter", "with", "raw", "autoescape", "do", "trans"];

    private readonly List<Token> _tokens;
    private readonly List<HashSet<string>> _macroNames = [];
    private int _i, _loopDepth;

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Stmt> Parse(string source)
    {
        return new Parser(Lexer.Tokenize(source)).ParseBody([]);
    }

    // The token list ends with an End token; reading past it keeps returning End, so errors name "end of template".
    private Token Current => _tokens[Math.Min(_i, _tokens.Count - 1)];

    private Token Peek(int ahead = 1) => _tokens[Math.Min(_i + ahead, _tokens.Count - 1)];

    private Token Next() => _tokens[Math.Min(_i++, _tokens.Count - 1)];

    private static TemplateSyntaxException Fail(string message, Token at) => new(message, at.Line);

    private Token Expect(TokenKind kind, string? value = null)
    {
        var tok = Current;
        if (tok.Kind != kind || (value is not null && tok.Value != value))
            throw Fail($"Expected {(value is null ? kind.ToString().ToLowerInvariant() : $"'{value}'")}, got {tok.Describe()}", tok);
        _i++;
        return tok;
    }

    private bool Skip(string op)
    {
        if (!Current.IsOperator(op)) return false;
        _i++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _i++;
        return true;
    }

    // ---- statements ------------------------------------------------------------------------------------------

    /// <summary>Statements up to one of <paramref name="endTags"/>; stops on the tag's name token.</summary>
    private List<Stmt> ParseBody(string[] endTags)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var tok = Current;
            switch (tok.Kind)
            {
                case TokenKind.Data:
                    body.Add(new TextStmt(tok.Value, tok.Line));
                    _i++;
                    break;
                case TokenKind.VariableBegin:
                    _i++;
                    var value = ParseTuple();
                    Expect(TokenKind.VariableEnd);
                    body.Add(new PrintStmt(value, tok.Line));
                    break;
                case TokenKind.BlockBegin:
                    _i++;
                    if (Current.Kind == TokenKind.Name && endTags.Contains(Current.Value)) return body;
                    body.Add(ParseStatement());
                    break;
                case TokenKind.End:
                    if (endTags.Length > 0)
                        throw Fail($"Unexpected end of template; expected {string.Join(" or ", endTags.Select(t => $"'{t}'"))}", tok);
                    return body;
                default:
                    throw Fail($"Unexpected {tok.Describe()}", tok);
            }
        }
    }

    private Stmt ParseStatement()
    {
        var tok = Current;
        if (tok.Kind != TokenKind.Name) throw Fail($"Expected a tag name, got {tok.Describe()}", tok);
        _i++;
        switch (tok.Value)
        {
            case "if": return ParseIf(tok.Line);
            case "for": return ParseFor(tok.Line);
            case "set": return ParseSet(tok.Line);
            case "macro": return ParseMacro(tok.Line);
            case "break":
            case "continue":
                if (_loopDepth == 0) throw Fail($"'{tok.Value}' outside of a for loop", tok);
                Expect(TokenKind.BlockEnd);
                return new LoopControlStmt(tok.Value == "break", tok.Line);
            case "generation":
                Expect(TokenKind.BlockEnd);
                var body = ParseBody(["endgeneration"]);
                EndTag();
                return new GenerationStmt(body, tok.Line);
        }
        if (UnsupportedTags.Contains(tok.Value))
            throw Fail($"The '{tok.Value}' tag is not supported by this chat-template interpreter", tok);
        throw Fail($"Encountered unknown tag '{tok.Value}'", tok);
    }

    /// <summary>Consumes the end tag's name (the current token) and the <c>%}</c> after it.</summary>
    private string EndTag()
    {
        string name = Next().Value;
        Expect(TokenKind.BlockEnd);
        return name;
    }

    private IfStmt ParseIf(int line)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        IReadOnlyList<Stmt> otherwise = [];
        var test = ParseTuple(withCondition: false);
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            var body = ParseBody(["elif", "else", "endif"]);
            branches.Add((test, body));
            string tag = Next().Value;
            if (tag == "elif")
            {
                test = ParseTuple(withCondition: false);
                continue;
            }
            if (tag == "else")
            {
                Expect(TokenKind.BlockEnd);
                otherwise = ParseBody(["endif"]);
                EndTag();
            }
            else Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, otherwise, line);
        }
    }

    private ForStmt ParseFor(int line)
    {
        var (targets, unpack) = ParseNameTargets();
        if (!SkipName("in")) throw Fail($"Expected 'in', got {Current.Describe()}", Current);
        var iterable = ParseTuple(withCondition: false, endNames: ["if", "recursive"]);
        Expr? filter = SkipName("if") ? ParseExpression() : null;
        if (Current.IsName("recursive")) throw Fail("Recursive for loops are not supported by this chat-template interpreter", Current);
        Expect(TokenKind.BlockEnd);
        _loopDepth++;
        var body = ParseBody(["endfor", "else"]);
        _loopDepth--;
        IReadOnlyList<Stmt> otherwise = [];
        if (EndTag() == "else")
        {
            otherwise = ParseBody(["endfor"]);
            EndTag();
        }
        return new ForStmt(targets, unpack, iterable, filter, body, otherwise, line);
    }

    private (List<string> Names, bool Unpack) ParseNameTargets()
    {
        var names = new List<string>();
        bool parenthesised = Skip("(");
        bool unpack = parenthesised;
        do
        {
            if (parenthesised && Current.IsOperator(")")) break;
            names.Add(Expect(TokenKind.Name).Value);
            if (Current.IsOperator(",")) unpack = true;
        } while (Skip(","));
        if (parenthesised) Expect(TokenKind.Operator, ")");
        return (names, unpack);
    }

    private SetStmt ParseSet(int line)
    {
        if (Current.Kind == TokenKind.Name && Peek().IsOperator("."))
        {
            string ns = Next().Value;
            _i++;
            string attribute = Expect(TokenKind.Name).Value;
            Expect(TokenKind.Operator, "=");
            var value = ParseTuple();
            Expect(TokenKind.BlockEnd);
            return new SetStmt([ns], attribute, value, null, line);
        }
        var (names, _) = ParseNameTargets();
        if (Skip("="))
        {
            var value = ParseTuple();
            Expect(TokenKind.BlockEnd);
            return new SetStmt(names, null, value, null, line);
        }
        if (names.Count != 1) throw Fail($"Expected '=', got {Current.Describe()}", Current);
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endset"]);
        EndTag();
        return new SetStmt(names, null, null, body, line);
    }

    private MacroStmt ParseMacro(int line)
    {
        string name = Expect(TokenKind.Name).Value;
        var parameters = new List<string>();
        var defaults = new List<Expr?>();
        Expect(TokenKind.Operator, "(");
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (Current.IsOperator(")")) break;
            parameters.Add(Expect(TokenKind.Name).Value);
            defaults.Add(Skip("=") ? ParseExpression() : null);
            if (defaults[^1] is null && defaults.Any(d => d is not null))
                throw Fail("A macro parameter without a default follows one with a default", Current);
        }
        _i++;
        Expect(TokenKind.BlockEnd);
        var names = new HashSet<string>();
        _macroNames.Add(names);
        int loopDepth = _loopDepth;
        _loopDepth = 0;
        var body = ParseBody(["endmacro"]);
        _loopDepth = loopDepth;
        _macroNames.RemoveAt(_macroNames.Count - 1);
        EndTag();
        return new MacroStmt(name, parameters, defaults, body, names.Contains("varargs"), names.Contains("kwargs"), line);
    }

    // ---- expressions -----------------------------------------------------------------------------------------

    private bool IsTupleEnd(string[]? endNames) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")")
        || (endNames is not null && Current.Kind == TokenKind.Name && endNames.Contains(Current.Value));

    /// <summary>An expression, or a tuple when commas separate several (<c>a, b</c>).</summary>
    private Expr ParseTuple(bool withCondition = true, string[]? endNames = null, bool explicitParentheses = false)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (IsTupleEnd(endNames)) break;
            items.Add(withCondition ? ParseExpression() : ParseOr());
            if (Current.IsOperator(",")) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count > 0) return items[0];
            if (!explicitParentheses) throw Fail($"Expected an expression, got {Current.Describe()}", Current);
        }
        return new TupleExpr(items, line);
    }

    private Expr ParseExpression()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            int line = Next().Line;
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            expr = new Conditional(test, expr, otherwise, line);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or")) left = new Binary("or", left, Advance(ParseAnd), left.Line);
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and")) left = new Binary("and", left, Advance(ParseNot), left.Line);
        return left;
    }

    private Expr Advance(Func<Expr> parse)
    {
        _i++;
        return parse();
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            int line = Next().Line;
            return new Unary("not", ParseNot(), line);
        }
        return ParseCompare();
    }

    private static readonly string[] CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    private Expr ParseCompare()
    {
        var first = ParseBinary();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Value)) rest.Add((Next().Value, ParseBinary()));
            else if (SkipName("in")) rest.Add(("in", ParseBinary()));
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                _i += 2;
                rest.Add(("not in", ParseBinary()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new Compare(first, rest, first.Line);
    }

    // Arithmetic levels under the comparisons, loosest first, as jinja2's parse_math1, parse_concat, parse_math2
    // and parse_pow; each is left-associative.
    private static readonly string[][] BinaryLevels = [["+", "-"], ["~"], ["*", "/", "//", "%"], ["**"]];

    private Expr ParseBinary(int level = 0)
    {
        if (level == BinaryLevels.Length) return ParseUnary();
        var left = ParseBinary(level + 1);
        while (Current.Kind == TokenKind.Operator && BinaryLevels[level].Contains(Current.Value))
            left = new Binary(Next().Value, left, ParseBinary(level + 1), left.Line);
        return left;
    }

    private Expr ParseUnary(bool withFilter = true)
    {
        var tok = Current;
        Expr node;
        if (tok.IsOperator("-") || tok.IsOperator("+"))
        {
            _i++;
            node = new Unary(tok.Value, ParseUnary(false), tok.Line);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilter ? ParseFilterExpr(node) : node;
    }

    private Expr ParsePrimary()
    {
        var tok = Next();
        switch (tok.Kind)
        {
            case TokenKind.Name:
                switch (tok.Value)
                {
                    case "true" or "True": return new Const(true, tok.Line);
                    case "false" or "False": return new Const(false, tok.Line);
                    case "none" or "None": return new Const(null, tok.Line);
                }
                foreach (var names in _macroNames) names.Add(tok.Value);
                return new Name(tok.Value, tok.Line);
            case TokenKind.String:
                string text = tok.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value;
                return new Const(text, tok.Line);
            case TokenKind.Integer:
                return new Const(long.TryParse(tok.Value, CultureInfo.InvariantCulture, out long l) ? (object)l : double.Parse(tok.Value, CultureInfo.InvariantCulture), tok.Line);
            case TokenKind.Float:
                return new Const(double.Parse(tok.Value, CultureInfo.InvariantCulture), tok.Line);
            case TokenKind.Operator when tok.Value == "(":
                var inner = ParseTuple(explicitParentheses: true);
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when tok.Value == "[":
                var items = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator("]")) break;
                    items.Add(ParseExpression());
                }
                _i++;
                return new ListExpr(items, tok.Line);
            case TokenKind.Operator when tok.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!Current.IsOperator("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator("}")) break;
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression()));
                }
                _i++;
                return new DictExpr(pairs, tok.Line);
        }
        throw Fail($"Unexpected {tok.Describe()}", tok);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator(".") || Current.IsOperator("[")) node = ParseSubscript(node);
            else if (Current.IsOperator("(")) node = new Call(node, ParseCallArgs(), node.Line);
            else return node;
        }
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|")) node = ParseFilter(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = new Call(node, ParseCallArgs(), node.Line);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr node)
    {
        var tok = Next();
        if (tok.Value == ".")
        {
            var attr = Next();
            if (attr.Kind == TokenKind.Name) return new GetAttr(node, attr.Value, tok.Line);
            if (attr.Kind == TokenKind.Integer) return new GetItem(node, new Const(long.Parse(attr.Value, CultureInfo.InvariantCulture), attr.Line), tok.Line);
            throw Fail($"Expected a name or number after '.', got {attr.Describe()}", attr);
        }
        var keys = new List<Expr>();
        while (!Current.IsOperator("]"))
        {
            if (keys.Count > 0) Expect(TokenKind.Operator, ",");
            keys.Add(ParseSubscribed());
        }
        _i++;
        return new GetItem(node, keys.Count == 1 ? keys[0] : new TupleExpr(keys, tok.Line), tok.Line);
    }

    private Expr ParseSubscribed()
    {
        int line = Current.Line;
        Expr? start = null;
        if (!Skip(":"))
        {
            start = ParseExpression();
            if (!Skip(":")) return start;
        }
        Expr? stop = Current.IsOperator(":") || Current.IsOperator("]") || Current.IsOperator(",") ? null : ParseExpression();
        Expr? step = null;
        if (Skip(":") && !Current.IsOperator("]") && !Current.IsOperator(",")) step = ParseExpression();
        return new SliceExpr(start, stop, step, line);
    }

    private Arguments ParseCallArgs()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        Expr? star = null, doubleStar = null;
        bool first = true;
        while (!Current.IsOperator(")"))
        {
            if (!first) Expect(TokenKind.Operator, ",");
            first = false;
            if (Current.IsOperator(")")) break;
            if (Skip("*")) star = ParseExpression();
            else if (Skip("**")) doubleStar = ParseExpression();
            else if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                string key = Next().Value;
                _i++;
                keywords.Add((key, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0) throw Fail("A positional argument follows a keyword argument", Current);
                positional.Add(ParseExpression());
            }
        }
        _i++;
        return new Arguments(positional, keywords, star, doubleStar);
    }

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name).Value;
        while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name)
        {
            _i++;
            name += "." + Next().Value;
        }
        return name;
    }

    private Expr ParseFilter(Expr node)
    {
        int line = Next().Line;
        var nameTok = Current;
        string name = ParseDottedName();
        if (!Filters.Exists(name)) throw Fail($"No filter named '{name}'", nameTok);
        var args = Current.IsOperator("(") ? ParseCallArgs() : Arguments.None;
        return new FilterExpr(node, name, args, line);
    }

    private Expr ParseTest(Expr node)
    {
        int line = Next().Line;
        bool negated = SkipName("not");
        var nameTok = Current;
        string name = ParseDottedName();
        if (!TestFunctions.Exists(name)) throw Fail($"No test named '{name}'", nameTok);
        var args = Arguments.None;
        if (Current.IsOperator("(")) args = ParseCallArgs();
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !Current.IsName("else") && !Current.IsName("or") && !Current.IsName("and"))
        {
            if (Current.IsName("is")) throw Fail("You cannot chain multiple tests with 'is'", Current);
            args = new Arguments([ParsePostfix(ParsePrimary())], [], null, null);
        }
        return new TestExpr(node, name, args, negated, line);
    }
}
