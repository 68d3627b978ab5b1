using System.Text.Json;
using System.Text.RegularExpressions;
using Jamba.Inference;
using Jamba.Tests.Cli;
using Jamba.Tokenization;

namespace Jamba.Tests.Shipped;

/// <summary>
/// The trained checkpoint in models/jamba-tiny-stories, loaded as a user would load a release folder: its files, its
/// tokenizer against the SentencePiece model it was converted from, its chat template, and text that must come from a
/// trained model (random or broken weights produce words outside the stories' vocabulary).
/// </summary>
[TestClass]
public sealed class ShippedModelTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "models", "jamba-tiny-stories");
    private static readonly string SpmFolder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny-stories-spm");
    private static readonly string Stories = Path.Combine(AppContext.BaseDirectory, "data", "tiny-stories.txt");
    private static readonly string Dialogues = Path.Combine(AppContext.BaseDirectory, "data", "tiny-dialogues.jsonl");

    private static JambaModel? model;

    [ClassInitialize]
    public static void Load(TestContext _) => model = JambaModel.Load(Folder);

    [ClassCleanup]
    public static void Free() => model?.Dispose();

    private static JambaModel Model => model!;

    /// <summary>Every word of the stories and the dialogues, lower-cased.</summary>
    private static HashSet<string> Vocabulary()
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        string text = File.ReadAllText(Stories) + "\n" + string.Join("\n", File.ReadLines(Dialogues)
            .SelectMany(l => JsonDocument.Parse(l).RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()!)));
        foreach (Match m in Regex.Matches(text, "[A-Za-z]+")) words.Add(m.Value.ToLowerInvariant());
        return words;
    }

    private static List<string> WordsOutside(string text, HashSet<string> vocabulary) =>
        Regex.Matches(text, "[A-Za-z]+").Select(m => m.Value.ToLowerInvariant()).Where(w => !vocabulary.Contains(w)).ToList();

    [TestMethod]
    public void IsAReleaseFolderOfARealJamba()
    {
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "README.md" })
            Assert.IsTrue(File.Exists(Path.Combine(Folder, file)), file);
        Assert.IsFalse(File.Exists(Path.Combine(Folder, "tokenizer.model")), "a tokenizer.json-only release");
        Assert.IsInstanceOfType<HuggingFaceTokenizer>(Model.Tokenizer);
        var config = Model.Config;
        var layers = Enumerable.Range(0, config.NumHiddenLayers).ToList();
        Assert.IsTrue(layers.Any(l => config.LayerKindAt(l) == LayerKind.Attention) && layers.Any(l => config.LayerKindAt(l) == LayerKind.Mamba), "attention and Mamba layers");
        Assert.IsTrue(layers.Any(config.IsMoeLayer), "MoE layers");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "config.json")));
        Assert.AreEqual("bfloat16", json.RootElement.GetProperty("torch_dtype").GetString());
        // The safetensors header names every tensor's dtype.
        using var weights = File.OpenRead(Path.Combine(Folder, "model.safetensors"));
        var length = new byte[8];
        weights.ReadExactly(length);
        var header = new byte[BitConverter.ToInt64(length)];
        weights.ReadExactly(header);
        using var tensors = JsonDocument.Parse(header);
        var dtypes = tensors.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").Select(p => p.Value.GetProperty("dtype").GetString()).Distinct().ToList();
        CollectionAssert.AreEqual(new[] { "BF16" }, dtypes);
        Assert.IsTrue(Model.GenerationConfig!.EosTokenIds!.Contains(Model.Tokenizer!.Encode("<|eom|>").Single()), "the end of a turn stops generation");
    }

    [TestMethod]
    public void TokenizerJsonGivesTheIdsOfTheSentencePieceModelItWasConvertedFrom()
    {
        var json = Model.Tokenizer!;
        var spm = JambaTokenizer.Load(Path.Combine(SpmFolder, "tokenizer.model"));
        int lines = 0;
        foreach (var line in File.ReadLines(Stories).Where(l => l.Length > 0))
        {
            CollectionAssert.AreEqual(spm.Encode(line).ToList(), json.Encode(line).ToList(), line);
            Assert.AreEqual(line, json.Decode(json.Encode(line)), "decode round-trips");
            lines++;
        }
        Assert.AreEqual(900, lines);
        // SentencePiece's own ids (Python, when the tokenizer was made) for corpus lines and strings outside the corpus.
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(SpmFolder, "expected.json")));
        int cases = 0;
        foreach (var c in expected.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            CollectionAssert.AreEqual(c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToList(), json.Encode(text).ToList(), text);
            cases++;
        }
        Assert.IsGreaterThanOrEqualTo(300, cases);
    }

    [TestMethod]
    public void ChatTemplateRendersJambaStyleTurnsWithSingleTokenMarkers()
    {
        var messages = new[]
        {
            new Dictionary<string, object?> { ["role"] = "system", ["content"] = "Be kind." },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "What does the blue cat have?" },
            new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "The blue cat has a kite." },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "Where is it?" },
        };
        string prompt = Model.ChatTemplate!.Render(messages, addGenerationPrompt: true);
        Assert.AreEqual("<|bom|><|system|>Be kind.<|eom|><|bom|><|user|>What does the blue cat have?<|eom|>" +
                        "<|bom|><|assistant|>The blue cat has a kite.<|eom|><|bom|><|user|>Where is it?<|eom|><|bom|><|assistant|>", prompt);
        var ids = Model.Tokenizer!.Encode(prompt);
        Assert.AreEqual(3, ids.Count(id => id == Model.Tokenizer.Encode("<|user|>").Single() || id == Model.Tokenizer.Encode("<|system|>").Single()));
        Assert.AreEqual(5, ids.Count(id => id == Model.Tokenizer.Encode("<|bom|>").Single()));
        var unknownRole = new[] { new Dictionary<string, object?> { ["role"] = "tool", ["content"] = "x" } };
        Assert.ThrowsExactly<Jamba.Chat.Templates.TemplateRaisedException>(() => Model.ChatTemplate.Render(unknownRole));
    }

    [TestMethod]
    public void GreedyContinuationIsMadeOfTheStoriesWords()
    {
        var vocabulary = Vocabulary();
        foreach (string prompt in new[] { "The blue cat", "In the garden, the fox", "Ada has two dogs and gets" })
        {
            string text = Model.Generate(new[] { prompt }, new GenerationOptions { MaxNewTokens = 40, Temperature = 0f, IgnoreStopTokens = true })[0];
            var words = Regex.Matches(text, "[A-Za-z]+").Count;
            Assert.IsGreaterThanOrEqualTo(10, words, $"\"{prompt}\" -> \"{text}\"");
            CollectionAssert.AreEqual(new List<string>(), WordsOutside(text, vocabulary), $"\"{prompt}\" -> \"{text}\"");
        }
    }

    [TestMethod]
    public void JambaChatHoldsATwoTurnConversationInTheStoriesWords()
    {
        var r = CliRunner.RunWithInput("What does the blue cat have?\nWhere is it?\n", "chat", "--model", Folder, "--greedy", "--max-new-tokens", "32");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var answers = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.AreEqual(2, answers.Length, r.Stdout);
        var vocabulary = Vocabulary();
        foreach (var answer in answers)
        {
            Assert.IsTrue(Regex.IsMatch(answer, "^[A-Z][A-Za-z0-9 ,+=]*[.?!]$") && Regex.Matches(answer, "[A-Za-z]+").Count >= 3, $"a sentence: \"{answer}\"");
            CollectionAssert.AreEqual(new List<string>(), WordsOutside(answer, vocabulary), answer);
        }
        Assert.AreEqual(2, r.Stderr.Split('\n').Count(l => l.Contains("tokens/s decode")), r.Stderr);
    }

    [TestMethod]
    public void JambaDemoUsesTheShippedModelByDefault()
    {
        var r = CliRunner.Run("demo", "--max-new-tokens", "12", "--threads", "1");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "Reloaded logits identical: True");
        StringAssert.Contains(r.Stdout, "Prompt: \"The blue cat\"");
        string greedy = r.Stdout.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("greedy: ", StringComparison.Ordinal));
        Assert.IsGreaterThanOrEqualTo(4, Regex.Matches(greedy, "[A-Za-z]+").Count - 1, greedy);
        CollectionAssert.AreEqual(new List<string>(), WordsOutside(greedy["greedy: ".Length..], Vocabulary()), greedy);
        CliRunner.AssertCleanFailure(CliRunner.Run("demo", "--model", "a", "--preset", "tiny"), "give --model or --preset, not both", 2);
    }
}
