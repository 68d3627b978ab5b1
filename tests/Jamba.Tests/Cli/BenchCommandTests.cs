namespace Jamba.Tests.Cli;

/// <summary>`jamba bench` end to end at toy sizes: every figure is printed and the options are checked. No timing is asserted.</summary>
[TestClass]
public sealed class BenchCommandTests
{
    /// <summary>
    /// A checkpoint's load line gives the load time beside the time of reading its files alone and of writing as much
    /// fresh memory as the weights take.
    /// </summary>
    [TestMethod]
    public void LoadLineComparesTheLoadWithReadingTheFiles()
    {
        var r = CliRunner.Run("bench", "--model", ReferenceCase.FixturePath("hf-jamba-tiny"), "--prompt-tokens", "9", "--new-tokens", "2", "--runs", "1",
            "--warmup", "0", "--train-tokens", "0", "--ceiling-mib", "4", "--ceiling-matmul", "32", "--threads", "1", "--probe-positions", "none");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var load = r.Stdout.Split('\n').Single(l => l.StartsWith("load "));
        StringAssert.Matches(load, new System.Text.RegularExpressions.Regex(@"reading the files alone: \d+\.\d\d s, writing as much fresh memory: \d+\.\d\d s; the load \d+\.\d× the two"));
    }

    [TestMethod]
    public void ModelBenchPrintsEveryFigure()
    {
        string config = ToyConfig();
        var r = CliRunner.Run("bench", "--config", config, "--prompt-tokens", "9", "--new-tokens", "4", "--runs", "1", "--warmup", "0",
            "--train-tokens", "8", "--prefill-chunk", "4", "--ceiling-mib", "4", "--ceiling-matmul", "32", "--threads", "1");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        foreach (var line in new[] { "read bandwidth", "time to first token", "prefill", "decode", "training step", "cache", "resident memory" })
            StringAssert.Contains(r.Stdout, line);
    }

    [TestMethod]
    public void Bf16BenchComparesWithF32InRunsAndStepByStep()
    {
        string config = ToyConfig();
        var r = CliRunner.Run("bench", "--config", config, "--dtype", "bf16", "--prompt-tokens", "9", "--new-tokens", "4", "--runs", "1",
            "--warmup", "0", "--train-tokens", "0", "--prefill-chunk", "4", "--ceiling-mib", "4", "--ceiling-matmul", "32", "--threads", "1",
            "--probe-positions", "none");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var lines = r.Stdout.Split('\n').Where(l => l.StartsWith("decode bf16 vs f32")).ToArray();
        Assert.AreEqual(2, lines.Length, r.Stdout);
        StringAssert.Contains(lines[0], "turns of 8 steps, first untimed");
        StringAssert.Contains(lines[1], "one step each in turn");
        foreach (var line in lines) StringAssert.Matches(line, new System.Text.RegularExpressions.Regex(@"\(bf16 \d+\.\d\d× f32\)"));
    }

    [TestMethod]
    public void CompareDecodeNeedsAStepPerTurn()
    {
        var config = TestConfigs.Tiny();
        var model = new Jamba.Modeling.JambaForCausalLM(config);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Jamba.Lab.Benchmarking.ModelBenchmark.CompareDecode(new[] { model }, 4, 2, run: 0));
        var medians = Jamba.Lab.Benchmarking.ModelBenchmark.CompareDecode(new[] { model, model }, 4, 3, run: 3);
        Assert.AreEqual(2, medians.Length);
        Assert.IsTrue(medians.All(m => m > 0 && double.IsFinite(m)), string.Join(", ", medians));
    }

    [TestMethod]
    public void KernelsBenchPrintsEveryKernel()
    {
        var r = CliRunner.Run("bench", "kernels", "--length", "8", "--channels", "4", "--moe-tokens", "6", "--moe-experts", "4",
            "--gemm-rows", "2", "--iterations", "1", "--reference-iterations", "1", "--threads", "1");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        foreach (var name in new[] { "scan.forward", "scan.backward", "scan.step", "conv.forward", "conv.backward", "moe.prefill", "moe.prefill.vs2mlp", "moe.decode", "gemm.int8", "gemm.q4" })
            StringAssert.Contains(r.Stdout, name);
    }

    /// <summary>A config.json of a toy Jamba (4 layers, hidden 16) in a fresh temporary folder; returns its path.</summary>
    internal static string ToyConfig()
    {
        string config = Path.Combine(CliRunner.TempDir(), "config.json");
        File.WriteAllText(config, """
            {"model_type":"jamba","vocab_size":64,"hidden_size":16,"intermediate_size":24,"num_hidden_layers":4,
             "num_attention_heads":4,"num_key_value_heads":2,"attn_layer_period":4,"attn_layer_offset":2,
             "expert_layer_period":2,"expert_layer_offset":1,"num_experts":4,"num_experts_per_tok":2,
             "mamba_d_state":8,"mamba_d_conv":4,"mamba_expand":2,"mamba_dt_rank":4,"pad_token_id":0,"bos_token_id":1,"eos_token_id":2}
            """);
        return config;
    }

    [TestMethod]
    public void UsageErrors()
    {
        CliRunner.AssertCleanFailure(CliRunner.Run("bench"), "--model or --config", 2);
        CliRunner.AssertCleanFailure(CliRunner.Run("bench", "kernel"), "unexpected argument", 2);
        CliRunner.AssertCleanFailure(CliRunner.Run("bench", "--config", "x.json", "--batch", "0"), "--batch", 2);
    }
}
