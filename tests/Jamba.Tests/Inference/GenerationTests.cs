using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Inference;

[TestClass]
public sealed class GenerationTests
{
    private static JambaModel Model(Action<JambaConfig>? change = null) =>
        JambaModel.Create(TestConfigs.Tiny(c => { c.VocabSize = 260; change?.Invoke(c); }), seed: 11);

    private static Tensor Prompt(long batch = 2, long length = 7) => randint(3, 260, new long[] { batch, length }, generator: new Generator(4));

    [TestMethod]
    public void SamplingWithTheSameSeedRepeatsAndAnotherSeedDiffers()
    {
        using var model = Model();
        var generator = new TokenGenerator(model.CausalLM!);
        GenerationOptions Options(long seed) => new() { MaxNewTokens = 24, Temperature = 1.5f, Seed = seed, IgnoreStopTokens = true };
        var a = generator.Generate(Prompt(), null, Options(1));
        var b = generator.Generate(Prompt(), null, Options(1));
        var c = generator.Generate(Prompt(), null, Options(2));
        CollectionAssert.AreEqual(a[0], b[0]);
        CollectionAssert.AreEqual(a[1], b[1]);
        Assert.IsFalse(a[0].SequenceEqual(c[0]) && a[1].SequenceEqual(c[1]));
    }

    [TestMethod]
    public void TopKOfOneIsGreedyAndTinyTopPIsGreedy()
    {
        using var model = Model();
        var generator = new TokenGenerator(model.CausalLM!);
        var greedy = generator.Generate(Prompt(), null, new GenerationOptions { MaxNewTokens = 12, IgnoreStopTokens = true });
        var topK = generator.Generate(Prompt(), null, new GenerationOptions { MaxNewTokens = 12, Temperature = 2f, TopK = 1, Seed = 3, IgnoreStopTokens = true });
        var topP = generator.Generate(Prompt(), null, new GenerationOptions { MaxNewTokens = 12, Temperature = 2f, TopP = 1e-6f, Seed = 3, IgnoreStopTokens = true });
        for (int b = 0; b < 2; b++) { CollectionAssert.AreEqual(greedy[b], topK[b]); CollectionAssert.AreEqual(greedy[b], topP[b]); }
    }

    [TestMethod]
    public void TopKKeepsOnlyTheKBestTokens()
    {
        var logits = tensor(new float[] { 0f, 5f, 4f, -1f, 3f }).unsqueeze(0);
        var seen = new HashSet<long>();
        using var g = new Generator(9);
        for (int i = 0; i < 300; i++) seen.Add(Sampling.Next(logits, new GenerationOptions { Temperature = 3f, TopK = 2 }, g).item<long>());
        CollectionAssert.AreEquivalent(new long[] { 1, 2 }, seen.ToArray());
    }

    [TestMethod]
    public void TopPKeepsTheSmallestNucleus()
    {
        // probabilities ≈ [0.64, 0.24, 0.09, 0.03]: p = 0.85 keeps the first two only.
        var logits = log(tensor(new float[] { 0.64f, 0.24f, 0.09f, 0.03f })).unsqueeze(0);
        var seen = new HashSet<long>();
        using var g = new Generator(9);
        for (int i = 0; i < 400; i++) seen.Add(Sampling.Next(logits, new GenerationOptions { Temperature = 1f, TopP = 0.85f }, g).item<long>());
        CollectionAssert.AreEquivalent(new long[] { 0, 1 }, seen.ToArray());
    }

    [TestMethod]
    public void StopTokenEndsARowAndPadsItWhileOthersContinue()
    {
        using var model = Model();
        var generator = new TokenGenerator(model.CausalLM!);
        var free = generator.Generate(Prompt(), null, new GenerationOptions { MaxNewTokens = 10, IgnoreStopTokens = true });
        int stop = (int)free[0][7 + 2];                            // row 0's third new token
        var stopped = generator.Generate(Prompt(), null, new GenerationOptions { MaxNewTokens = 10, StopTokenIds = new[] { stop } });
        int firstStop = Array.FindIndex(free[0], 7, t => t == stop);
        Assert.AreEqual(stop, stopped[0][firstStop], "the stop token itself is kept");
        Assert.IsTrue(stopped[0].Skip(firstStop + 1).All(t => t == model.Config.PadTokenId), "then pad ids");
        if (!free[1].Skip(7).Contains(stop))
            CollectionAssert.AreEqual(free[1].Take(stopped[1].Length).ToArray(), stopped[1], "the other row is unaffected");
    }

    [TestMethod]
    public void StreamingYieldsExactlyWhatGenerateReturnsAndCancellationStops()
    {
        using var model = Model();
        var generator = new TokenGenerator(model.CausalLM!);
        var options = new GenerationOptions { MaxNewTokens = 9, IgnoreStopTokens = true };
        var all = generator.Generate(Prompt(1), null, options)[0].Skip(7).ToArray();
        var streamed = generator.Stream(Prompt(1), null, options).Select(s => s[0]).ToArray();
        CollectionAssert.AreEqual(all, streamed);

        using var cts = new CancellationTokenSource();
        int seen = 0;
        Assert.ThrowsExactly<OperationCanceledException>(() =>
        {
            foreach (var _ in generator.Stream(Prompt(1), null, options, cts.Token)) if (++seen == 3) cts.Cancel();
        });
        Assert.AreEqual(3, seen);
    }

    [TestMethod]
    public void DecodingDoesNotLeakTensors()
    {
        using var model = Model();
        var generator = new TokenGenerator(model.CausalLM!);
        var prompt = Prompt(1);
        var options = new GenerationOptions { MaxNewTokens = 20, IgnoreStopTokens = true };
        generator.Generate(prompt, null, options);                 // warm-up
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        generator.Generate(prompt, null, new GenerationOptions { MaxNewTokens = 120, IgnoreStopTokens = true });
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.AreEqual(0, after - before, $"live tensors grew by {after - before} over 120 decode steps");
    }

    [TestMethod]
    public void TextGenerationWithTheByteTokenizerRoundTripsThroughSaveAndLoad()
    {
        using var model = Model();
        string dir = Path.Combine(Path.GetTempPath(), "jamba-gen-tests", Guid.NewGuid().ToString("N"));
        model.Save(dir);
        using var loaded = JambaModel.Load(dir);
        Assert.IsInstanceOfType<Jamba.Tokenization.ByteTokenizer>(loaded.Tokenizer);
        var options = new GenerationOptions { MaxNewTokens = 16, IgnoreStopTokens = true };
        var a = model.Generate(new[] { "Hello", "a longer prompt" }, options);
        var b = loaded.Generate(new[] { "Hello", "a longer prompt" }, options);
        CollectionAssert.AreEqual(a.ToArray(), b.ToArray());
        Assert.AreEqual(string.Concat(model.Stream("Hello", options)), a[0]);
        Directory.Delete(dir, recursive: true);
    }

    [TestMethod]
    public void Bf16CheckpointReloadsWithTheSameLogits()
    {
        using var model = Model();
        string dir = Path.Combine(Path.GetTempPath(), "jamba-gen-tests", Guid.NewGuid().ToString("N"));
        using var bf16 = model.Clone(new JambaModelOptions { DType = "bf16" });
        bf16.Save(dir);
        using var loaded = JambaModel.Load(dir, new JambaModelOptions { DType = "bf16" });
        using var _ = no_grad();
        var ids = Prompt();
        Assert.IsTrue(bf16.CausalLM!.Forward(ids).Logits.eq(loaded.CausalLM!.Forward(ids).Logits).all().item<bool>());
        Directory.Delete(dir, recursive: true);
    }

    [TestMethod]
    public void OptionsAreValidatedByName()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new GenerationOptions { TopP = 0 }.Validate());
        Assert.AreEqual("TopP", e.ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new GenerationOptions { Temperature = -1 }.Validate());
    }
}
