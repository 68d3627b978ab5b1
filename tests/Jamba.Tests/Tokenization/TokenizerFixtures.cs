using System.Text.Json;
using Jamba.Tokenization;

namespace Jamba.Tests.Tokenization;

/// <summary>Access to the SentencePiece fixtures: the 2000-piece BPE model and SentencePiece's expected outputs.</summary>
internal static class TokenizerFixtures
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures");
    public static string ModelFolder => Path.Combine(Folder, "spm-bpe-2k");
    public static string ModelPath => Path.Combine(ModelFolder, "tokenizer.model");

    private static readonly Lazy<SentencePieceTokenizer> Shared = new(() => SentencePieceTokenizer.FromFile(ModelPath));
    public static SentencePieceTokenizer Tokenizer => Shared.Value;

    public static JsonElement Expected => Load(Path.Combine(ModelFolder, "expected.json"));
    public static JsonElement Extra => Load(Path.Combine(Folder, "spm-bpe-2k-extra.json"));

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static string Show(IEnumerable<int> ids) => "[" + string.Join(",", ids) + "]";

    public static string Show(string? text) => JsonSerializer.Serialize(text);

    private static JsonElement Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }
}
