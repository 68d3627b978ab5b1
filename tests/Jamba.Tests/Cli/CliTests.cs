using System.Text.Json;
using Jamba.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Cli;

/// <summary>The `jamba` tool end to end, in the exact forms the README documents.</summary>
[TestClass]
public sealed class CliTests
{
    private static string Fixture(string name) => ReferenceCase.FixturePath(name);

    private static string Rows(Tensor t) => string.Join(";", Enumerable.Range(0, (int)t.shape[0]).Select(b => string.Join(",", t[b].data<long>().ToArray())));

    [TestMethod]
    public void LogitsOfPaddedBatchMatchTheReference()
    {
        using var c = new ReferenceCase("hf-jamba-tiny-padded");
        string outFile = Path.Combine(CliRunner.TempDir(), "logits.safetensors");
        var r = CliRunner.Run("logits", "--model", c.Dir, "--ids", Rows(c.InputIds), "--attention-mask", Rows(c.AttentionMask), "--out", outFile);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var logits = SafeTensors.Load(outFile)["logits"];
        Assert.AreEqual(ScalarType.Float32, logits.dtype);
        double rel = ReferenceCase.RelativeError(logits, c.Expected["logits"], c.AttentionMask.eq(1).unsqueeze(-1));
        Assert.IsTrue(rel <= 1e-4, $"relative error {rel:E2}");
    }

    [TestMethod]
    public void LogitsOfAClassifierAreBatchByLabels()
    {
        using var c = new ReferenceCase(Path.Combine("generated", "cls5-padded"));
        string outFile = Path.Combine(CliRunner.TempDir(), "cls.safetensors");
        var r = CliRunner.Run("logits", "--model", c.Dir, "--ids", Rows(c.InputIds), "--attention-mask", Rows(c.AttentionMask), "--out", outFile);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var logits = SafeTensors.Load(outFile)["logits"];
        CollectionAssert.AreEqual(new long[] { 3, 5 }, logits.shape);
        Assert.IsTrue(ReferenceCase.RelativeError(logits, c.Expected["cls_logits"]) <= 1e-4);
    }

    [TestMethod]
    public void GreedyIdsWithPaddingMatchTheReference()
    {
        using var c = new ReferenceCase("hf-jamba-tiny-padded");
        var expected = c.Expected["greedy_ids"];
        int steps = (int)(expected.shape[1] - c.InputIds.shape[1]);
        var r = CliRunner.Run("generate", "--model", c.Dir, "--ids", Rows(c.InputIds), "--attention-mask", Rows(c.AttentionMask),
            "--max-new-tokens", steps.ToString(), "--greedy", "--format", "ids");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(Rows(expected).Split(';').Length, lines.Length);
        CollectionAssert.AreEqual(Rows(expected).Split(';'), lines);
    }

    [TestMethod]
    public void TokenizeMatchesSentencePiece()
    {
        var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture("spm-bpe-2k"), "expected.json"))).RootElement.GetProperty("cases");
        var cases = expected.EnumerateArray().Take(12).ToList();
        string stdin = string.Join("\n", cases.Select(e => JsonSerializer.Serialize(e.GetProperty("text").GetString()))) + "\n";
        var r = CliRunner.RunWithInput(stdin, "tokenize", "--tokenizer", Path.Combine(Fixture("spm-bpe-2k"), "tokenizer.model"), "--add-bos", "true");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var lines = r.Stdout.Split('\n');
        for (int i = 0; i < cases.Count; i++)
            Assert.AreEqual(string.Join(",", cases[i].GetProperty("ids_with_bos").EnumerateArray().Select(x => x.GetInt32())), lines[i], $"line {i}");
    }

    [TestMethod]
    public void InfoReportsThePapersKvCacheFor256KTokens()
    {
        foreach (var (preset, gib) in new[] { ("jamba-v0.1", "4.00 GiB"), ("llama-2-7b", "128.00 GiB"), ("mixtral-8x7b", "32.00 GiB") })
        {
            var r = CliRunner.Run("info", "--preset", preset, "--context", "262144", "--dtype", "bf16");
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            StringAssert.Contains(r.Stdout, $"KV cache:     {gib}", preset);
        }
    }

    [TestMethod]
    public void PlanPrintsTheKvTableAndAContextThatFits()
    {
        var r = CliRunner.Run("plan", "--preset", "small", "--memory", "2GB", "--dtype", "f32");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "llama-2-7b");
        StringAssert.Contains(r.Stdout, "256.00 GiB");   // Llama-2-7B at 256K in f32: twice the paper's 16-bit 128 GB
        var batch1 = r.Stdout.Split('\n').First(l => l.TrimStart().StartsWith("1 "));
        long context = long.Parse(batch1.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1].Replace(",", ""));
        var plan = Jamba.Planning.MemoryPlan.For(Jamba.Planning.Presets.FromName("small"), 1, context, ScalarType.Float32);
        Assert.IsTrue(plan.Total <= 2L << 30, "the printed context fits the budget");
        Assert.IsTrue(Jamba.Planning.MemoryPlan.For(Jamba.Planning.Presets.FromName("small"), 1, context + 1, ScalarType.Float32).Total > 2L << 30, "and is the largest that does");
        CliRunner.AssertCleanFailure(CliRunner.Run("plan", "--preset", "small", "--memory", "lots"), "--memory", exitCode: 2);
    }

    [TestMethod]
    public void InitWritesALoadableReferenceFolder()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "ckpt");
        var r = CliRunner.Run("init", "--config", Path.Combine(Fixture("hf-jamba-tiny"), "config.json"), "--out", dir, "--seed", "3");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var names = SafeTensors.ReadHeader(Path.Combine(dir, "model.safetensors")).tensors.Keys.ToHashSet();
        var reference = SafeTensors.ReadHeader(Path.Combine(Fixture("hf-jamba-tiny"), "model.safetensors")).tensors.Keys.ToHashSet();
        Assert.IsTrue(names.SetEquals(reference), "same parameter names as the reference file");
        var again = Path.Combine(CliRunner.TempDir(), "ckpt");
        CliRunner.Run("init", "--config", Path.Combine(Fixture("hf-jamba-tiny"), "config.json"), "--out", again, "--seed", "3");
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(dir, "model.safetensors")), File.ReadAllBytes(Path.Combine(again, "model.safetensors")), "same seed, same bytes");
    }

    // ------------------------------------------------------------------ broken checkpoints

    private static string CopyFixture()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "model");
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(Fixture("hf-jamba-tiny"), f), Path.Combine(dir, f));
        return dir;
    }

    private static CliRunner.Result Logits(string dir) =>
        CliRunner.Run("logits", "--model", dir, "--ids", "5,9,11", "--out", Path.Combine(CliRunner.TempDir(), "x.safetensors"));

    [TestMethod]
    public void MissingKeyIsNamed()
    {
        string dir = CopyFixture();
        string file = Path.Combine(dir, "model.safetensors");
        var tensors = SafeTensors.Load(file);
        tensors.Remove("model.layers.3.mamba.A_log");
        SafeTensors.Save(file, tensors);
        CliRunner.AssertCleanFailure(Logits(dir), "model.layers.3.mamba.A_log");
    }

    [TestMethod]
    public void WrongShapeIsNamedWithBothShapes()
    {
        string dir = CopyFixture();
        string file = Path.Combine(dir, "model.safetensors");
        var tensors = SafeTensors.Load(file);
        tensors["model.layers.2.self_attn.k_proj.weight"] = zeros(16, 64);
        SafeTensors.Save(file, tensors);
        var r = Logits(dir);
        CliRunner.AssertCleanFailure(r, "model.layers.2.self_attn.k_proj.weight");
        StringAssert.Contains(r.Stderr, "16");
    }

    [TestMethod]
    public void TruncatedFileIsAClearError()
    {
        string dir = CopyFixture();
        string file = Path.Combine(dir, "model.safetensors");
        using (var fs = new FileStream(file, FileMode.Open)) fs.SetLength(fs.Length / 2);
        CliRunner.AssertCleanFailure(Logits(dir), "model.safetensors");
    }

    [TestMethod]
    public void PickleCheckpointIsRefused()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "pickle");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(Fixture("hf-jamba-tiny"), "config.json"), Path.Combine(dir, "config.json"));
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), new byte[] { 0x80, 0x02, 0x63, 0x00 });
        CliRunner.AssertCleanFailure(Logits(dir), "pickle");
    }

    [TestMethod]
    public void UsageErrorsExitWithTwo()
    {
        CliRunner.AssertCleanFailure(CliRunner.Run("logits", "--modle", "x"), "--modle", exitCode: 2);
        CliRunner.AssertCleanFailure(CliRunner.Run("logits", "--model", Fixture("hf-jamba-tiny"), "--ids", "5,9,999", "--out", "x.safetensors"), "999", exitCode: 2);
        CliRunner.AssertCleanFailure(CliRunner.Run("logits", "--model", Fixture("hf-jamba-tiny"), "--ids", "5,9;7", "--out", "x.safetensors"), "different lengths", exitCode: 2);
        Assert.AreEqual(0, CliRunner.Run("generate", "--help").ExitCode);
    }
}
