using System.Text.Json;
using System.Text.Json.Nodes;
using Jamba.Chat.Templates;

namespace Jamba.Chat;

/// <summary>
/// A checkpoint's chat template, rendered exactly as Hugging Face transformers'
/// <c>apply_chat_template(..., tokenize=False)</c> renders it: the same Jinja environment, the variables
/// <c>messages</c>, <c>tools</c>, <c>documents</c>, <c>add_generation_prompt</c>, the tokenizer's special tokens
/// (<c>bos_token</c>, <c>eos_token</c>, ...) and any extra variables.
/// </summary>
/// <remarks>
/// A checkpoint may ship several named templates (<c>[{"name": "default", ...}, {"name": "tool_use", ...}]</c>);
/// as in transformers, <c>tool_use</c> is used when tools are given and it exists, else <c>default</c>.
/// </remarks>
public sealed class ChatTemplate
{
    /// <summary>The special-token attributes transformers passes to every template when they are set.</summary>
    public static readonly IReadOnlyList<string> SpecialTokenNames =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "additional_special_tokens"];

    private static readonly HashSet<string> ReservedVariables = ["messages", "tools", "documents", "add_generation_prompt"];

    private readonly Dictionary<string, JinjaTemplate> _templates;
    private readonly bool _named;

    private ChatTemplate(Dictionary<string, JinjaTemplate> templates, bool named, IReadOnlyDictionary<string, object?>? specialTokens)
    {
        _templates = templates;
        _named = named;
        SpecialTokens = specialTokens is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(specialTokens);
    }

    /// <summary>A single template.</summary>
    /// <param name="template">The Jinja source.</param>
    /// <param name="specialTokens">Variables such as <c>bos_token</c> passed to every rendering.</param>
    /// <exception cref="TemplateSyntaxException">The template is malformed or uses something unsupported.</exception>
    public ChatTemplate(string template, IReadOnlyDictionary<string, object?>? specialTokens = null)
        : this(new Dictionary<string, JinjaTemplate> { ["default"] = JinjaTemplate.Parse(template) }, false, specialTokens)
    {
    }

    /// <summary>Named templates, chosen per rendering as transformers chooses them.</summary>
    public static ChatTemplate FromNamed(IReadOnlyDictionary<string, string> templates, IReadOnlyDictionary<string, object?>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(templates);
        if (templates.Count == 0) throw new ArgumentException("At least one named template is needed.", nameof(templates));
        var parsed = new Dictionary<string, JinjaTemplate>();
        foreach (var (name, source) in templates)
        {
            try { parsed[name] = JinjaTemplate.Parse(source); }
            catch (TemplateSyntaxException e) { throw new TemplateSyntaxException($"Chat template '{name}': {e.Detail}", e.Line); }
        }
        return new ChatTemplate(parsed, true, specialTokens);
    }

    /// <summary>The special tokens passed to every rendering (explicit variables override them).</summary>
    public IReadOnlyDictionary<string, object?> SpecialTokens { get; }

    /// <summary>The template names: <c>default</c> for a single template.</summary>
    public IReadOnlyCollection<string> Names => _templates.Keys;

    /// <summary>
    /// Loads the template of a checkpoint folder as transformers does: <c>chat_template.jinja</c> (and
    /// <c>additional_chat_templates/*.jinja</c>) when present, else the <c>chat_template</c> of
    /// <c>tokenizer_config.json</c>; special tokens come from <c>tokenizer_config.json</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The folder has no chat template.</exception>
    public static ChatTemplate FromFolder(string directory)
    {
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        JsonObject? config = File.Exists(configPath) ? ParseConfig(File.ReadAllText(configPath), configPath) : null;
        var files = new Dictionary<string, string>();
        string single = Path.Combine(directory, "chat_template.jinja");
        if (File.Exists(single)) files["default"] = File.ReadAllText(single);
        string extraDir = Path.Combine(directory, "additional_chat_templates");
        if (Directory.Exists(extraDir))
            foreach (var file in Directory.EnumerateFiles(extraDir, "*.jinja").Order(StringComparer.Ordinal))
                files[Path.GetFileNameWithoutExtension(file)] = File.ReadAllText(file);
        var specialTokens = config is null ? null : ReadSpecialTokens(config);
        if (files.Count == 1 && files.ContainsKey("default")) return new ChatTemplate(files["default"], specialTokens);
        if (files.Count > 0) return FromNamed(files, specialTokens);
        if (config is null) throw new FileNotFoundException($"No chat template in {directory}: neither chat_template.jinja nor tokenizer_config.json exists.", configPath);
        return FromTokenizerConfig(config, configPath);
    }

    /// <summary>Loads the <c>chat_template</c> and special tokens of a <c>tokenizer_config.json</c> file.</summary>
    public static ChatTemplate FromTokenizerConfigFile(string path) => FromTokenizerConfig(ParseConfig(File.ReadAllText(path), path), path);

    /// <summary>Loads the <c>chat_template</c> and special tokens of <c>tokenizer_config.json</c> text.</summary>
    public static ChatTemplate FromTokenizerConfigJson(string json) => FromTokenizerConfig(ParseConfig(json, "tokenizer_config.json"), "tokenizer_config.json");

    private static JsonObject ParseConfig(string json, string source)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source} must hold a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }
    }

    private static ChatTemplate FromTokenizerConfig(JsonObject config, string source)
    {
        var specialTokens = ReadSpecialTokens(config);
        switch (config["chat_template"])
        {
            case JsonValue value when value.TryGetValue(out string? text):
                return new ChatTemplate(text, specialTokens);
            case JsonArray list:
                var named = new Dictionary<string, string>();
                foreach (var entry in list)
                {
                    if (entry?["name"]?.GetValue<string>() is not { } name || entry["template"]?.GetValue<string>() is not { } template)
                        throw new InvalidDataException($"{source}: each entry of the chat_template list needs a \"name\" and a \"template\" string.");
                    named[name] = template;
                }
                return FromNamed(named, specialTokens);
            case null:
                throw new InvalidDataException($"{source} has no chat_template.");
            default:
                throw new InvalidDataException($"{source}: chat_template must be a string or a list of {{\"name\", \"template\"}} objects.");
        }
    }

    private static Dictionary<string, object?> ReadSpecialTokens(JsonObject config)
    {
        static string? Content(JsonNode? node) => node switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonObject o => o["content"]?.GetValue<string>(),
            _ => null,
        };
        var tokens = new Dictionary<string, object?>();
        foreach (string name in SpecialTokenNames)
        {
            if (name == "additional_special_tokens")
            {
                if (config[name] is JsonArray list) tokens[name] = list.Select(Content).Where(s => s is not null).Cast<object?>().ToList();
            }
            else if (Content(config[name]) is { } token) tokens[name] = token;
        }
        return tokens;
    }

    /// <summary>The template a rendering uses: <paramref name="name"/> if given, else <c>tool_use</c> when tools are given and it exists, else <c>default</c>.</summary>
    /// <exception cref="KeyNotFoundException">The named template does not exist, or there is no default.</exception>
    public JinjaTemplate Select(bool hasTools, string? name = null)
    {
        if (name is not null)
            return _templates.TryGetValue(name, out var chosen) ? chosen
                : throw new KeyNotFoundException($"No chat template named '{name}'; available: {string.Join(", ", _templates.Keys.Order(StringComparer.Ordinal))}.");
        if (_named && hasTools && _templates.TryGetValue("tool_use", out var toolUse)) return toolUse;
        return _templates.TryGetValue("default", out var template) ? template
            : throw new KeyNotFoundException(
                $"This model has several chat templates and none is named 'default'; pass a template name. Available: {string.Join(", ", _templates.Keys.Order(StringComparer.Ordinal))}.");
    }

    /// <summary>Renders a conversation to the prompt text.</summary>
    /// <param name="messages">The messages: a JSON array (<see cref="JsonNode"/> / <see cref="JsonElement"/>) or a list of dictionaries, each with a <c>role</c> and usually a <c>content</c>; tool calls, names and other fields pass through.</param>
    /// <param name="tools">Tool JSON schemas (each an object), or <see langword="null"/>.</param>
    /// <param name="documents">Documents for retrieval-augmented generation (each an object, e.g. <c>title</c> and <c>text</c>), or <see langword="null"/>.</param>
    /// <param name="addGenerationPrompt">End with the header of the assistant's turn.</param>
    /// <param name="variables">Extra template variables; they override the special tokens.</param>
    /// <param name="templateName">A named template to use instead of transformers' choice.</param>
    /// <param name="now">The clock for <c>strftime_now</c>; local time when <see langword="null"/>.</param>
    /// <exception cref="TemplateRaisedException">The template refused the conversation; its message is the template's.</exception>
    /// <exception cref="TemplateRuntimeException">Rendering failed, e.g. a message without the <c>role</c> the template reads.</exception>
    /// <exception cref="ArgumentException">A tool or document is not an object, or a variable repeats a reserved name.</exception>
    public string Render(object messages, object? tools = null, object? documents = null, bool addGenerationPrompt = false,
        IReadOnlyDictionary<string, object?>? variables = null, string? templateName = null, Func<DateTime>? now = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var messageList = TemplateValue.From(messages) as List<object?>
            ?? throw new ArgumentException("messages must be a list of message objects.", nameof(messages));
        var toolList = ObjectList(tools, nameof(tools),
            "Tools should either be a JSON schema, or a callable function with type hints and a docstring suitable for auto-conversion to a schema.");
        var documentList = ObjectList(documents, nameof(documents), "Documents should be a list of dicts with 'title' and 'text' keys!");
        var all = new Dictionary<string, object?>(SpecialTokens);
        if (variables is not null)
            foreach (var (key, value) in variables)
            {
                if (ReservedVariables.Contains(key)) throw new ArgumentException($"'{key}' is a parameter of Render, not an extra variable.", nameof(variables));
                all[key] = value;
            }
        all["messages"] = messageList;
        all["tools"] = toolList;
        all["documents"] = documentList;
        all["add_generation_prompt"] = addGenerationPrompt;
        return Select(toolList is not null, templateName).Render(all, now);
    }

    private static List<object?>? ObjectList(object? value, string parameter, string error)
    {
        if (value is null) return null;
        var list = TemplateValue.From(value) as List<object?> ?? throw new ArgumentException(error, parameter);
        for (int i = 0; i < list.Count; i++)
            if (list[i] is not PyDict) throw new ArgumentException($"{error} (item {i} is {Python.TypeName(list[i])})", parameter);
        return list;
    }
}
