using System.Globalization;
using Jamba.Lab.Experiments;
using Jamba.Lab.Experiments.Ablation;
using Jamba.Lab.Experiments.Needle;
using Jamba.Modeling;
using Jamba.Planning;
using Jamba.Tests.Cli;
using Jamba.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Experiments;

/// <summary>
/// The paper-reproduction pipeline: the config switch for the Mamba-internal norms, the generated tasks, the equal
/// active-parameter variants, the synthetic cache fill, and `jamba ablate` / `jamba bench context` end to end at toy
/// sizes (the numbers are checked by the runs in docs/paper-reproduction.md, not here).
/// </summary>
[TestClass]
public sealed class PaperExperimentTests
{
    [TestMethod]
    public void InnerNormSwitchDefaultsOnAndLeavesReferenceConfigsUnchanged()
    {
        var config = TestConfigs.Tiny();
        Assert.IsTrue(config.MambaInnerLayerNorms);
        string json = config.ToJson();
        Assert.IsFalse(json.Contains(JambaConfig.MambaInnerLayerNormsKey), "a default config must not gain a field");
        config.MambaInnerLayerNorms = false;
        var back = JambaConfig.FromJson(config.ToJson());
        Assert.IsFalse(back.MambaInnerLayerNorms);
        back.MambaInnerLayerNorms = true;
        Assert.AreEqual(json, back.ToJson());
    }

    [TestMethod]
    public void InnerNormSwitchChangesOnlyTheMambaNorms()
    {
        var on = TestConfigs.Tiny();
        var off = TestConfigs.Tiny(c => c.MambaInnerLayerNorms = false);
        using var a = JambaModel.Create(on, seed: 3);
        using var b = JambaModel.Create(off, seed: 3);
        // Same parameters (the checkpoint layout does not change), different function.
        CollectionAssert.AreEqual(a.Network.named_parameters().Select(p => p.name).ToArray(), b.Network.named_parameters().Select(p => p.name).ToArray());
        using var ids = tensor(new long[] { 1, 5, 9, 11, 30, 7 }, new long[] { 1, 6 });
        using var la = a.CausalLM!.Forward(ids);
        using var lb = b.CausalLM!.Forward(ids);
        Assert.IsFalse(la.Logits.allclose(lb.Logits, rtol: 1e-4, atol: 1e-5));
    }

    [TestMethod]
    public void AblationVariantsHaveEqualActiveParameters()
    {
        var variants = AblationVariant.Catalogue(128);
        long target = ParameterCount.Of(variants.First(v => v.Name == "hybrid-1:7").Config).Active;
        foreach (var v in variants)
        {
            var config = v.Config;
            long active = ParameterCount.Of(config).Active;
            // Within one feed-forward unit: 3·H per active MLP.
            Assert.IsTrue(Math.Abs(active - target) <= 3L * config.HiddenSize * config.NumHiddenLayers * 2, $"{v.Name}: {active} vs {target}");
        }
        Assert.AreEqual(8, CacheMemory.AttentionLayers(variants.First(v => v.Name == "pure-attention").Config));
        Assert.AreEqual(0, CacheMemory.AttentionLayers(variants.First(v => v.Name == "pure-mamba").Config));
        Assert.AreEqual(2, CacheMemory.AttentionLayers(variants.First(v => v.Name == "hybrid-1:3").Config));
        Assert.AreEqual(1, CacheMemory.AttentionLayers(variants.First(v => v.Name == "hybrid-1:7").Config));
        Assert.IsTrue(ParameterCount.Of(variants.First(v => v.Name == "hybrid-1:7-moe").Config).Total > 2 * target / 1.5, "MoE has more total parameters");
    }

    [TestMethod]
    public void ShardsOfTheGridMergeIntoTheSameNumbersAsOneRun()
    {
        AblationOptions Options(int index, int count) => new()
        {
            Seeds = 2, Steps = 3, BatchSize = 2, EvalSequences = 4, EvalPoints = 1, Hidden = 16, ShardIndex = index, ShardCount = count,
            Variants = new[] { "hybrid-1:7", "pure-attention" }, Tasks = new[] { "recall" },
        };
        var whole = AblationStudy.Run(Options(0, 1));
        var shards = Enumerable.Range(0, 3).SelectMany(i => AblationStudy.RunShard(Options(i, 3))).ToList();
        Assert.AreEqual(4, shards.Count, "2 variants x 2 seeds, each in exactly one of 3 shards");
        var merged = AblationStudy.Summarize(shards, Options(0, 1));
        Assert.AreEqual(whole.Count, merged.Count);
        for (int i = 0; i < whole.Count; i++)
        {
            Assert.AreEqual(whole[i].Variant, merged[i].Variant);
            CollectionAssert.AreEqual(whole[i].Runs.Select(r => r.Seed).ToArray(), merged[i].Runs.Select(r => r.Seed).ToArray());
            CollectionAssert.AreEqual(whole[i].Runs.Select(r => r.FinalLoss).ToArray(), merged[i].Runs.Select(r => r.FinalLoss).ToArray(),
                $"{whole[i].Variant}: a run's numbers depend on its seed only");
        }
    }

    [TestMethod]
    public void RecallSequencesScoreOnlyAnswersThatWereStatedEarlier()
    {
        var task = new AssociativeRecallTask();
        var ids = new long[task.SequenceLength];
        var labels = new long[task.SequenceLength];
        task.Sample(new SplitMix64(7), ids, labels);
        var stated = new Dictionary<long, long>();
        for (int p = 0; p < task.Pairs; p++) stated[ids[1 + 2 * p]] = ids[2 + 2 * p];
        int scored = 0;
        for (int t = 0; t < ids.Length; t++)
        {
            if (labels[t] == -100) continue;
            scored++;
            Assert.AreEqual(stated[ids[t - 1]], labels[t], "the answer is the value stated for the queried key");
        }
        Assert.AreEqual(task.Queries, scored);
        Assert.IsTrue(ids.All(i => i >= 0 && i < task.VocabSize));
    }

    [TestMethod]
    public void NeedleAndLanguageSequencesFitTheSharedVocabulary()
    {
        var needle = new NeedleTask(64);
        var lm = new MarkovLanguageTask();
        foreach (IAblationTask task in new IAblationTask[] { needle, lm, new AssociativeRecallTask() })
            Assert.IsTrue(task.VocabSize <= AblationStudy.VocabSize, $"{task.Name} needs {task.VocabSize} ids");
        foreach (IAblationTask task in new IAblationTask[] { needle, lm })
        {
            var ids = new long[task.SequenceLength];
            var labels = new long[task.SequenceLength];
            task.Sample(new SplitMix64(1), ids, labels);
            Assert.IsTrue(ids.All(i => i >= 0 && i < task.VocabSize), task.Name);
        }
        var n = new long[64];
        var l = new long[64];
        needle.Sample(new SplitMix64(2), n, l);
        Assert.AreEqual(n[63], l[63]);
        Assert.AreEqual(n[62], n[Array.IndexOf(n, n[62])], "the queried key appears in the haystack");
        Assert.AreEqual(n[63], n[Array.IndexOf(n, n[62]) + 1], "followed by the needle's value");
    }

    [TestMethod]
    public void SyntheticFillLeavesTheCacheThePlannerPredicts()
    {
        var config = TestConfigs.Tiny();
        using var model = JambaModel.Create(config, seed: 1);
        var rows = ContextBenchmark.Run(new[] { ("tiny", model.CausalLM!) }, new ContextBenchmarkOptions { Contexts = new[] { 40 }, NewTokens = 2 });
        Assert.AreEqual(1, rows.Count);
        // 40 filled + 1 warm-up + 2 timed positions, float32.
        Assert.AreEqual(CacheMemory.KvBytes(config, 1, 43, ScalarType.Float32), rows[0].KvBytes);
        Assert.IsTrue(rows[0].DecodeTokensPerSecond > 0 && rows[0].CpuSecondsPerToken >= 0);
    }

    [TestMethod]
    [TestCategory("EndToEnd")]
    public void AblateQuickPipelineRunsEndToEnd()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("ablate", "--quick", "--steps", "2", "--eval-sequences", "4", "--batch", "4",
            "--variants", "hybrid-1:7-moe,pure-mamba,hybrid-1:7-no-norms", "--out", dir);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        foreach (var file in new[] { "ablation.md", "ablation-runs.csv", "ablation-lm-loss.png", "ablation-recall-loss.png", "ablation-recall-accuracy.png" })
            Assert.IsTrue(File.Exists(Path.Combine(dir, file)), file);
        string md = File.ReadAllText(Path.Combine(dir, "ablation.md"));
        StringAssert.Contains(md, "| hybrid-1:7-moe |");
        StringAssert.Contains(md, "| hybrid-1:7-no-norms |");
        StringAssert.Contains(md, "Findings");
        // 3 variants × 2 tasks × 1 seed × 1 evaluation (the --quick default of 5 points collapses at 2 steps to steps 1 and 2).
        Assert.IsTrue(File.ReadAllLines(Path.Combine(dir, "ablation-runs.csv")).Length >= 1 + 6);
    }

    [TestMethod]
    [TestCategory("EndToEnd")]
    public void BenchContextRunsEndToEnd()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("bench", "context", "--preset", "tiny", "--contexts", "32,64", "--new-tokens", "2", "--threads", "1", "--out", dir);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var csv = File.ReadAllLines(Path.Combine(dir, "context.csv"));
        Assert.AreEqual(1 + 3 * 2, csv.Length, string.Join("\n", csv));
        StringAssert.Contains(r.Stdout, "KV cache is 1/");
        foreach (var file in new[] { "context-tokens-per-second.png", "context-tokens-per-cpu-second.png", "context-memory.png" })
            Assert.IsTrue(File.Exists(Path.Combine(dir, file)), file);
        var hybridKv = long.Parse(csv[2].Split(',')[7], CultureInfo.InvariantCulture);   // tiny hybrid, 64 tokens
        var attentionKv = long.Parse(csv[4].Split(',')[7], CultureInfo.InvariantCulture);
        Assert.AreEqual(4.0, (double)attentionKv / hybridKv, 1e-9, "tiny is 1:3: one attention layer of four");
    }
}
