namespace Jamba.Chat.Templates;

/// <summary>
/// A chat template could not be parsed or rendered. <see cref="Line"/> is the template line at fault (1-based), or 0
/// when the error is not tied to one line.
/// </summary>
public abstract class TemplateException : Exception
{
    private protected TemplateException(string detail, int line) : base(detail) => (Detail, Line) = (detail, line);

    /// <summary>What went wrong, without the line.</summary>
    public string Detail { get; }

    /// <summary>The 1-based template line at fault, 0 when unknown.</summary>
    public int Line { get; internal set; }

    /// <inheritdoc/>
    public override string Message => Line > 0 ? $"{Detail} (template line {Line})" : Detail;
}

/// <summary>The template is not valid Jinja, or uses a construct, filter or test this interpreter does not have.</summary>
public sealed class TemplateSyntaxException : TemplateException
{
    internal TemplateSyntaxException(string detail, int line) : base(detail, line) { }
}

/// <summary>
/// Rendering failed: an undefined value was used where Jinja refuses it (<c>undefined.attr</c>,
/// <c>undefined + "x"</c>), an operation got the wrong types, or the sandbox forbade a call.
/// </summary>
public sealed class TemplateRuntimeException : TemplateException
{
    internal TemplateRuntimeException(string detail, int line = 0) : base(detail, line) { }
}

/// <summary>
/// The template itself refused the input by calling <c>raise_exception(message)</c>; <see cref="Exception.Message"/>
/// is the template's message, unchanged.
/// </summary>
public sealed class TemplateRaisedException : TemplateException
{
    internal TemplateRaisedException(string message, int line = 0) : base(message, line) { }

    /// <summary>The template's own message, exactly as it passed it to <c>raise_exception</c>.</summary>
    public override string Message => Detail;
}
