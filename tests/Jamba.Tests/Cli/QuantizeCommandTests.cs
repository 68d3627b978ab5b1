using System.Text.Json;
using Jamba.Checkpoints;
using static TorchSharp.torch;

namespace Jamba.Tests.Cli;

/// <summary>`jamba quantize` and the --quantize / --group-size options of the model-loading commands.</summary>
[TestClass]
public sealed class QuantizeCommandTests
{
    private static string Fixture(string name) => ReferenceCase.FixturePath(name);

    private static float[] Logits(params string[] args)
    {
        string outFile = Path.Combine(CliRunner.TempDir(), "logits.safetensors");
        var r = CliRunner.Run(args.Concat(new[] { "--ids", "1,17,230,5,99", "--out", outFile }).ToArray());
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        using var logits = SafeTensors.Load(outFile)["logits"];
        return logits.to_type(ScalarType.Float32).data<float>().ToArray();
    }

    /// <summary>
    /// `jamba quantize` writes a q4 folder (U8 weights, F32 scales, the quantization_config); `logits` on it equals
    /// `logits --quantize q4` on the reference folder, and differs from the float logits.
    /// </summary>
    [TestMethod]
    public void QuantizeWritesAFolderThatLoadsAsStored()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "q4");
        var r = CliRunner.Run("quantize", "--model", Fixture("hf-jamba-tiny"), "--out", dir, "--quantize", "q4", "--group-size", "64");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "q4 (group size 64)");
        StringAssert.Contains(r.Stdout, "f16 scales");
        var header = SafeTensors.ReadHeader(Path.Combine(dir, "model.safetensors")).tensors;
        Assert.AreEqual("U8", header["model.layers.0.mamba.in_proj.weight"].DType);
        Assert.AreEqual("F16", header["model.layers.0.mamba.in_proj.weight_scale"].DType);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))))
        {
            var q = config.RootElement.GetProperty("quantization_config");
            Assert.AreEqual("jamba_mlnet", q.GetProperty("quant_method").GetString());
            Assert.AreEqual("q4", q.GetProperty("scheme").GetString());
            Assert.AreEqual(64, q.GetProperty("group_size").GetInt32());
            Assert.AreEqual(3, q.GetProperty("format_version").GetInt32(), "q4 scales in float16");
            Assert.IsTrue(q.GetProperty("lm_head").GetBoolean(), "the head is quantized by default");
        }
        var stored = Logits("logits", "--model", dir);
        var onTheFly = Logits("logits", "--model", Fixture("hf-jamba-tiny"), "--quantize", "q4", "--group-size", "64");
        var full = Logits("logits", "--model", Fixture("hf-jamba-tiny"));
        CollectionAssert.AreEqual(onTheFly, stored, "the stored quantized weights are the ones --quantize computes");
        CollectionAssert.AreNotEqual(full, stored);
    }

    /// <summary>A quantized folder with another --quantize is one clear line naming both; bad option values are usage errors.</summary>
    [TestMethod]
    public void QuantizeErrorsAreClean()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "int8");
        Assert.AreEqual(0, CliRunner.Run("quantize", "--model", Fixture("hf-jamba-tiny"), "--out", dir, "--quantize", "int8").ExitCode);
        CliRunner.AssertCleanFailure(CliRunner.Run("logits", "--model", dir, "--quantize", "q4", "--ids", "1,2", "--out", Path.Combine(CliRunner.TempDir(), "x.safetensors")),
            "quantization option (q4 (group size 32), LM head too) disagrees");
        CliRunner.AssertCleanFailure(CliRunner.Run("logits", "--model", dir, "--quantize", "q3", "--ids", "1,2", "--out", "x.safetensors"), "--quantize", exitCode: 2);
        CliRunner.AssertCleanFailure(CliRunner.Run("generate", "--model", dir, "--group-size", "48", "--prompt", "hi"), "--group-size must be 32 or 64", exitCode: 2);
        CliRunner.AssertCleanFailure(CliRunner.Run("quantize", "--model", dir, "--out", dir), "--out must be another folder", exitCode: 2);
    }

    /// <summary>`jamba init --quantize` writes a quantized checkpoint; `jamba bench --quantize` prints weights by precision.</summary>
    [TestMethod]
    public void InitAndBenchTakeQuantize()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "init-q4");
        var r = CliRunner.Run("init", "--config", BenchCommandTests.ToyConfig(), "--out", dir, "--quantize", "q4", "--group-size", "32");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(File.ReadAllText(Path.Combine(dir, "config.json")), "quantization_config");
        Assert.AreEqual("I8", SafeTensors.ReadHeader(Path.Combine(dir, "model.safetensors")).tensors["model.layers.0.feed_forward.down_proj.weight"].DType,
            "down_proj has 24 inputs: int8, not q4");

        r = CliRunner.Run("bench", "--config", BenchCommandTests.ToyConfig(), "--quantize", "int8", "--prompt-tokens", "9", "--new-tokens", "3",
            "--runs", "1", "--warmup", "0", "--prefill-chunk", "4", "--ceiling-mib", "4", "--ceiling-matmul", "32", "--threads", "1", "--probe-positions", "none");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "weights by precision  int8, LM head too: ");
        StringAssert.Contains(r.Stdout, "int8 ");
        StringAssert.Contains(r.Stdout, "f32 scales");
        Assert.IsFalse(r.Stdout.Contains("training step"), "quantized models are not trained");
    }

    /// <summary>
    /// --activations int8 (the default) rounds the quantized linears' inputs: `logits` then differs from --activations
    /// none and stays close to it; `bench` labels its side-by-side decode line with it; a bad value is a usage error.
    /// </summary>
    [TestMethod]
    public void ActivationsOptionSwitchesTheLinears()
    {
        var byDefault = Logits("logits", "--model", Fixture("hf-jamba-tiny"), "--quantize", "int8");
        var none = Logits("logits", "--model", Fixture("hf-jamba-tiny"), "--quantize", "int8", "--activations", "none");
        var int8 = Logits("logits", "--model", Fixture("hf-jamba-tiny"), "--quantize", "int8", "--activations", "int8");
        CollectionAssert.AreEqual(int8, byDefault, "int8 is the default");
        CollectionAssert.AreNotEqual(none, int8, "int8 activations change the numerics");
        double num = 0, den = 0;
        for (int i = 0; i < none.Length; i++) { num += Math.Pow(int8[i] - none[i], 2); den += Math.Pow(none[i], 2); }
        Assert.IsTrue(Math.Sqrt(num / den) < 0.05, $"int8 activations moved the logits by {Math.Sqrt(num / den):E2} normwise");
        CliRunner.AssertCleanFailure(CliRunner.Run("logits", "--model", Fixture("hf-jamba-tiny"), "--activations", "int4", "--ids", "1,2", "--out", "x.safetensors"),
            "--activations", exitCode: 2);

        var r = CliRunner.Run("bench", "--config", BenchCommandTests.ToyConfig(), "--quantize", "int8", "--activations", "int8", "--prompt-tokens", "9", "--new-tokens", "3",
            "--runs", "1", "--warmup", "0", "--prefill-chunk", "4", "--ceiling-mib", "4", "--ceiling-matmul", "32", "--threads", "1", "--probe-positions", "none");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "decode int8·a8 vs ");
    }
}
