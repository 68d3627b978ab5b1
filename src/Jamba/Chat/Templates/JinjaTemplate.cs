namespace Jamba.Chat.Templates;

/// <summary>
/// A Jinja template compiled the way transformers compiles chat templates: <c>trim_blocks</c>,
/// <c>lstrip_blocks</c>, <c>loopcontrols</c>, an immutable sandbox, transformers' <c>tojson</c>,
/// <c>raise_exception</c> and <c>strftime_now</c>. Immutable; rendering is thread-safe.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly IReadOnlyList<Stmt> _body;

    private JinjaTemplate(string source, IReadOnlyList<Stmt> body) => (Source, _body) = (source, body);

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="TemplateSyntaxException">The template is malformed or uses an unsupported construct, filter or test.</exception>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(source, Parser.Parse(source));
    }

    /// <summary>
    /// Renders with <paramref name="variables"/>. Values may be JSON (<see cref="System.Text.Json.Nodes.JsonNode"/>,
    /// <see cref="System.Text.Json.JsonElement"/>), dictionaries, lists, strings, numbers, booleans or null.
    /// </summary>
    /// <param name="variables">Template variables by name.</param>
    /// <param name="now">The clock <c>strftime_now</c> reads; local time when <see langword="null"/>.</param>
    /// <exception cref="TemplateRaisedException">The template called <c>raise_exception</c>.</exception>
    /// <exception cref="TemplateRuntimeException">Rendering failed (an undefined value misused, a type error).</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables, Func<DateTime>? now = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var converted = variables.ToDictionary(kv => kv.Key, kv => TemplateValue.From(kv.Value));
        return Interpreter.Render(_body, converted, now ?? (() => DateTime.Now));
    }
}
