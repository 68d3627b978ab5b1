using Jamba.Inference;
using Jamba.Tokenization;
using TorchSharp;
using Jamba.Tests.Checkpoints;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static TorchSharp.torch;

namespace Jamba.Tests.Inference;

/// <summary>generation_config.json as the defaults of generation, and Hugging Face's repetition penalty.</summary>
[TestClass]
public sealed class GenerationConfigTests
{
    [TestMethod]
    public void ParsesIntOrListAndTheSamplingDefaults()
    {
        var c = GenerationConfig.Parse("""{"bos_token_id": 1, "eos_token_id": [2, 7], "pad_token_id": 0, "do_sample": true, "temperature": 0.6, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.1, "max_new_tokens": 64, "transformers_version": "4.47.1"}""");
        CollectionAssert.AreEqual(new[] { 2, 7 }, c.EosTokenIds);
        Assert.AreEqual((1, 0, true, 0.6f, 0.9f, 20, 1.1f, 64), (c.BosTokenId, c.PadTokenId, c.DoSample, c.Temperature, c.TopP, c.TopK, c.RepetitionPenalty, c.MaxNewTokens));
        CollectionAssert.AreEqual(new[] { 5 }, GenerationConfig.Parse("""{"eos_token_id": 5}""").EosTokenIds);
        Assert.IsNull(GenerationConfig.Parse("{}").EosTokenIds);
    }

    [TestMethod]
    public void BadValuesNameTheKey()
    {
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => GenerationConfig.Parse("""{"top_k": "many"}""", "g.json")).Message, "top_k");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => GenerationConfig.Parse("""{"eos_token_id": [2, "x"]}""", "g.json")).Message, "eos_token_id[1]");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => GenerationConfig.Parse("[1]", "g.json")).Message, "g.json");
    }

    [TestMethod]
    public void UnsetOptionsTakeTheConfigAndExplicitOnesWin()
    {
        var config = GenerationConfig.Parse("""{"eos_token_id": [2, 7], "pad_token_id": 3, "do_sample": true, "temperature": 0.6, "top_p": 0.9, "repetition_penalty": 1.3, "max_new_tokens": 64}""");
        var resolved = new GenerationOptions().WithDefaults(config);
        Assert.AreEqual((64, 0.6f, 50, 0.9f, 1.3f, 3), (resolved.MaxNewTokens, resolved.Temperature, resolved.TopK, resolved.TopP, resolved.RepetitionPenalty, resolved.PadTokenId));
        CollectionAssert.AreEqual(new[] { 2, 7 }, resolved.StopTokenIds!.ToArray());

        var explicitOnes = new GenerationOptions { MaxNewTokens = 5, Temperature = 0, TopK = 3, RepetitionPenalty = 1, StopTokenIds = new[] { 9 } }.WithDefaults(config);
        Assert.AreEqual((5, 0f, 3, 0.9f, 1f), (explicitOnes.MaxNewTokens, explicitOnes.Temperature, explicitOnes.TopK, explicitOnes.TopP, explicitOnes.RepetitionPenalty));
        CollectionAssert.AreEqual(new[] { 9 }, explicitOnes.StopTokenIds!.ToArray());

        // Without do_sample Hugging Face decodes greedily, whatever temperature the file holds.
        var greedy = new GenerationOptions().WithDefaults(GenerationConfig.Parse("""{"temperature": 0.6, "top_k": 5}"""));
        Assert.AreEqual((0f, 0), (greedy.Temperature, greedy.TopK));
    }

    [TestMethod]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens()
    {
        using var logits = tensor(new float[] { 3f, 2.5f, -1f, 0.5f, 4f, -2f }, new long[] { 2, 3 });
        using var seen = tensor(new long[] { 0, 2, 2, 0, 0, 0 }, new long[] { 2, 3 });
        using var penalised = Sampling.ApplyRepetitionPenalty(logits, seen, 2f);
        CollectionAssert.AreEqual(new float[] { 1.5f, 2.5f, -2f, 0.25f, 4f, -2f }, penalised.data<float>().ToArray());

        // The penalty changes the greedy choice of the first row (3 → 1.5 < 2.5) and is off at 1.
        var options = new GenerationOptions { RepetitionPenalty = 2f };
        using var next = Sampling.Next(logits, options, null, seen);
        CollectionAssert.AreEqual(new long[] { 1, 1 }, next.data<long>().ToArray());
        using var plain = Sampling.Next(logits, new GenerationOptions(), null, seen);
        CollectionAssert.AreEqual(new long[] { 0, 1 }, plain.data<long>().ToArray());
    }

    [TestMethod]
    public void ACheckpointsGenerationConfigDrivesGenerationAndIsSavedBack()
    {
        using var tmp = new TempDir();
        string dir = tmp["ckpt"];
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Fixture("hf-jamba-tiny", f), Path.Combine(dir, f));
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Fixture("tokenizers", "mistral", f), Path.Combine(dir, f));
        const string generationJson = """{"eos_token_id": [2, 5], "max_new_tokens": 3, "repetition_penalty": 1.5, "custom_key": "kept"}""";
        File.WriteAllText(Path.Combine(dir, GenerationConfig.FileName), generationJson);

        using var model = JambaModel.Load(dir);
        Assert.IsInstanceOfType<HuggingFaceTokenizer>(model.Tokenizer, "tokenizer.json is picked up without a tokenizer.model");
        CollectionAssert.AreEqual(new[] { 2, 5 }, model.GenerationConfig!.EosTokenIds);

        var prompt = new[] { new[] { 1, 10, 11, 12 } };
        Assert.HasCount(3, model.StreamIds(prompt, new GenerationOptions { IgnoreStopTokens = true }).ToList());
        Assert.HasCount(5, model.StreamIds(prompt, new GenerationOptions { IgnoreStopTokens = true, MaxNewTokens = 5 }).ToList());

        string saved = tmp["saved"];
        model.Save(saved);
        Assert.AreEqual(generationJson, File.ReadAllText(Path.Combine(saved, GenerationConfig.FileName)));
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(dir, f)), File.ReadAllBytes(Path.Combine(saved, f)), f);
        using var back = JambaModel.Load(saved);
        Assert.IsInstanceOfType<HuggingFaceTokenizer>(back.Tokenizer);
        Assert.AreEqual(1.5f, back.GenerationConfig!.RepetitionPenalty);

        // JambaModelOptions.Tokenizer takes a tokenizer.json path too.
        using var other = JambaModel.Load(dir, new JambaModelOptions { Tokenizer = Fixture("tokenizers", "llama3", "tokenizer.json") });
        Assert.AreEqual(128256, other.Tokenizer!.VocabSize);
    }
}
