using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Jamba.Tokenization.HuggingFace;

/// <summary>Reading helpers shared by the <c>tokenizer.json</c> pipeline steps.</summary>
internal static class JsonSteps
{
    /// <summary>The <c>type</c> of a step object, or an error naming <paramref name="where"/>.</summary>
    public static string TypeOf(JsonNode node, string where) =>
        node["type"]?.GetValue<string>() ?? throw new InvalidDataException($"{where} has no \"type\"");

    /// <summary>The steps of a <c>Sequence</c> step (held under <paramref name="listKey"/>), or the step itself.</summary>
    public static IEnumerable<JsonNode> Flatten(JsonNode node, string listKey, string where)
    {
        if (TypeOf(node, where) != "Sequence") return new[] { node };
        var list = node[listKey] as JsonArray ?? throw new InvalidDataException($"{where} is a Sequence without \"{listKey}\"");
        return list.SelectMany(n => Flatten(n ?? throw new InvalidDataException($"{where} holds a null step"), listKey, where));
    }

    /// <summary>
    /// A <c>{"String": s}</c> or <c>{"Regex": r}</c> pattern as a .NET regex. Hugging Face compiles patterns with Oniguruma
    /// (Rust) or JavaScript regexes; the patterns real tokenizers use (classes, \p{L}, look-ahead) read the same in .NET.
    /// </summary>
    public static Regex Pattern(JsonNode? pattern, string where)
    {
        if (pattern?["String"]?.GetValue<string>() is string s) return new Regex(Regex.Escape(s), RegexOptions.CultureInvariant);
        if (pattern?["Regex"]?.GetValue<string>() is string r) return new Regex(r, RegexOptions.CultureInvariant);
        throw new InvalidDataException($"{where} has no String or Regex pattern");
    }
}
