using System.Text.Json;
using Jamba.Tokenization;
using static Jamba.Tests.Tokenization.TokenizerFixtures;

namespace Jamba.Tests.Tokenization;

/// <summary>
/// tokenizer.json files of both kinds against Hugging Face's ids and text (Fixtures/tokenizers, made by
/// make_expected.mjs with transformers.js): Mistral's SentencePiece-style BPE with byte fallback and Llama 3's byte-level BPE.
/// </summary>
[TestClass]
public sealed class HuggingFaceTokenizerTests
{
    public static IEnumerable<object[]> Fixtures => new[] { new object[] { "mistral" }, new object[] { "llama3" } };

    private static readonly Dictionary<string, HuggingFaceTokenizer> Loaded = new();

    internal static HuggingFaceTokenizer Load(string name)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(name, out var t))
                Loaded[name] = t = HuggingFaceTokenizer.FromFile(Path.Combine(Folder, "tokenizers", name, "tokenizer.json"));
            return t;
        }
    }

    private static IEnumerable<JsonElement> Cases(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "tokenizers", name, "expected.json")));
        return doc.RootElement.GetProperty("cases").Clone().EnumerateArray().ToList();
    }

    [TestMethod]
    [DynamicData(nameof(Fixtures))]
    public void IdsMatchHuggingFace(string name)
    {
        var tok = Load(name);
        var cases = Cases(name).ToList();
        Assert.IsGreaterThanOrEqualTo(200, cases.Count);
        var failures = new List<string>();
        foreach (var c in cases)
        {
            string text = c.GetProperty("text").GetString()!;
            var want = Ints(c.GetProperty("ids"));
            var got = tok.Encode(text).ToArray();
            if (!want.SequenceEqual(got)) failures.Add($"{Show(text)}: want {Show(want)} got {Show(got)}");
            var wantSpecial = Ints(c.GetProperty("ids_special"));
            var gotSpecial = tok.EncodeWithSpecialTokens(text).ToArray();
            if (!wantSpecial.SequenceEqual(gotSpecial)) failures.Add($"{Show(text)} with special tokens: want {Show(wantSpecial)} got {Show(gotSpecial)}");
        }
        Assert.IsEmpty(failures, $"{failures.Count} of {cases.Count} differ:\n" + string.Join("\n", failures.Take(30)));
    }

    [TestMethod]
    [DynamicData(nameof(Fixtures))]
    public void DecodeMatchesHuggingFace(string name)
    {
        var tok = Load(name);
        var failures = new List<string>();
        foreach (var c in Cases(name))
        {
            var ids = Ints(c.GetProperty("ids_special"));
            void Check(string key, string got)
            {
                string want = c.GetProperty(key).GetString()!;
                if (want != got) failures.Add($"{key} of {Show(ids)}: want {Show(want)} got {Show(got)}");
            }
            Check("decoded", tok.Decode(ids, skipSpecialTokens: false));
            Check("decoded_skip", tok.Decode(ids, skipSpecialTokens: true));
            Check("decoded_raw", tok.Decode(ids, skipSpecialTokens: false, cleanUpTokenizationSpaces: false));
        }
        Assert.IsEmpty(failures, $"{failures.Count} differ:\n" + string.Join("\n", failures.Take(30)));
    }

    [TestMethod]
    [DynamicData(nameof(Fixtures))]
    public void DecodingTheIdsGivesTheTextBack(string name)
    {
        var tok = Load(name);
        var specials = tok.AddedTokens.Values.Select(t => t.Content).ToList();
        int checkedCount = 0;
        foreach (var c in Cases(name))
        {
            string text = c.GetProperty("text").GetString()!;
            if (specials.Any(s => text.Contains(s, StringComparison.Ordinal))) continue; // "<s>x" decodes as "<s> x"
            if (name == "mistral" && text.Contains('\u2581')) continue; // a written U+2581 is a space to SentencePiece
            Assert.AreEqual(text, tok.Decode(tok.Encode(text), skipSpecialTokens: false, cleanUpTokenizationSpaces: false), $"round trip of {Show(text)}");
            checkedCount++;
        }
        Assert.IsGreaterThan(150, checkedCount);
    }

    [TestMethod]
    public void SpecialTokensComeFromTheConfig()
    {
        var mistral = Load("mistral");
        Assert.AreEqual((1, 2, 0), (mistral.BosId, mistral.EosId, mistral.UnknownId));
        Assert.IsNull(mistral.PadId);
        CollectionAssert.AreEqual(new[] { 1 }, mistral.PrefixIds.ToArray());
        Assert.IsEmpty(mistral.SuffixIds);
        Assert.AreEqual(32000, mistral.VocabSize);

        var llama3 = Load("llama3");
        Assert.AreEqual((128000, 128001), (llama3.BosId, llama3.EosId));
        Assert.IsEmpty(llama3.PrefixIds); // this file's post_processor adds nothing
        Assert.AreEqual(128256, llama3.VocabSize);
        Assert.AreEqual("<|eot_id|>", llama3.IdToToken(128009));
        CollectionAssert.AreEqual(new[] { 128000, 9906, 128009 }, llama3.Encode("Hello<|eot_id|>", addBos: true).ToArray());
    }
}

/// <summary><c>jamba tokenize --tokenizer PATH</c> with a tokenizer.json file and with a folder holding one.</summary>
[TestClass]
public sealed class TokenizeCommandWithTokenizerJsonTests
{
    [TestMethod]
    public void TokenizeAcceptsATokenizerJsonOrItsFolder()
    {
        string folder = Path.Combine(Folder, "tokenizers", "llama3");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("ids").GetArrayLength() > 0).Take(20).ToList();
        string stdin = string.Join("\n", cases.Select(c => JsonSerializer.Serialize(c.GetProperty("text").GetString()))) + "\n";
        foreach (string path in new[] { Path.Combine(folder, "tokenizer.json"), folder })
        {
            var r = Jamba.Tests.Cli.CliRunner.RunWithInput(stdin, "tokenize", "--tokenizer", path);
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            var lines = r.Stdout.Split('\n');
            for (int i = 0; i < cases.Count; i++)
                Assert.AreEqual(string.Join(",", Ints(cases[i].GetProperty("ids"))), lines[i], $"{path} line {i}");
        }
    }
}

/// <summary>Streaming decode of tokenizer.json ids reads exactly like decoding them all at once (without clean-up).</summary>
[TestClass]
public sealed class IncrementalDecodingOfTokenizerJsonTests
{
    [TestMethod]
    [DataRow("mistral")]
    [DataRow("llama3")]
    public void StreamedTextJoinsUpToTheFullDecode(string name)
    {
        var tok = HuggingFaceTokenizerTests.Load(name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "tokenizers", name, "expected.json")));
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var ids = Ints(c.GetProperty("ids_special"));
            foreach (bool skip in new[] { false, true })
            {
                var decoder = new IncrementalDecoder(tok, skip);
                string streamed = string.Concat(ids.Select(decoder.Add)) + decoder.Finish();
                Assert.AreEqual(tok.Decode(ids, skip, cleanUpTokenizationSpaces: false), streamed, $"{Show(ids)} skip={skip}");
                count++;
            }
        }
        Assert.IsGreaterThan(400, count);
    }
}
