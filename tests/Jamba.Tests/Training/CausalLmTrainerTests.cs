using Jamba.Checkpoints;
using Jamba.Tests.Checkpoints;
using Jamba.Tokenization;
using Jamba.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Training;

[TestClass]
public sealed class CausalLmTrainerTests
{
    // Two layers keep the tests fast and still cover every kind: a dense Mamba layer and an attention layer with MoE.
    private static JambaConfig Config() => TestConfigs.Tiny(c =>
    {
        c.VocabSize = 260; c.InitializerRange = 0.02; c.NumHiddenLayers = 2; c.AttnLayerPeriod = 2; c.AttnLayerOffset = 1;
    });

    private static PackedDataset Data()
    {
        var words = new[] { "cat", "dog", "sees", "the", "a", "red", "blue", "runs", "to", "hill" };
        var r = new SplitMix64(11);
        var docs = Enumerable.Range(0, 60).Select(_ => string.Join(' ', Enumerable.Range(0, 6).Select(_ => words[r.NextInt(words.Length)])) + ".").ToArray();
        return PackedDataset.Pack(docs, ByteTokenizer.Instance, 16);
    }

    private static TrainingOptions Options(int steps = 6, int evalEvery = 2, int saveEvery = 0) => new()
    {
        SequenceLength = 16, BatchSize = 4, Steps = steps, LearningRate = 3e-3, WarmupSteps = 2, EvalEvery = evalEvery,
        SaveEvery = saveEvery, ValidationFraction = 0.06, Seed = 5, WeightDecay = 0.1, ClipNorm = 1.0,
    };

    private static JambaModel NewModel() => JambaModel.Create(Config(), seed: 1);

    [TestMethod]
    public void ValidationLossFallsAtTheStart()
    {
        using var model = NewModel();
        using var trainer = new CausalLmTrainer(model, Data(), Options(6, evalEvery: 1));
        var result = trainer.Run();
        var val = trainer.History.Where(h => h.ValidationLoss is not null).Select(h => h.ValidationLoss!.Value).ToList();
        Assert.AreEqual(7, val.Count, "step 0 and every step");
        for (int i = 1; i < val.Count; i++) Assert.IsTrue(val[i] < val[i - 1], $"val loss {string.Join(", ", val)}");
        Assert.IsTrue(trainer.UsesRouterLoss, "the tiny config has MoE layers");
        Assert.IsTrue(trainer.History.Where(h => h.Loss is not null).All(h => h.AuxLoss is > 0));
        Assert.AreEqual(6, result.Step);
        Assert.IsNull(result.FinalCheckpoint, "no output folder, no checkpoint");
    }

    [TestMethod]
    public void EarlyStoppingStopsWhenValidationStopsImproving()
    {
        using var dir = new TempDir();
        using var model = NewModel();
        var o = Options(6, evalEvery: 1);
        // A learning rate below float32 resolution leaves the weights unchanged: the validation loss cannot improve.
        o.LearningRate = 1e-15;
        o.EarlyStoppingPatience = 2;
        using var trainer = new CausalLmTrainer(model, Data(), o) { OutputDirectory = dir.Path };
        var result = trainer.Run();
        Assert.IsTrue(result.EarlyStopped);
        Assert.AreEqual(2, result.Step, "two evaluations after step 0 without a new best");
        Assert.AreEqual(TrainingState.CheckpointName(2), Path.GetFileName(result.FinalCheckpoint));
    }

    [TestMethod]
    public void SameSeedGivesIdenticalLosses()
    {
        static List<double> Losses()
        {
            using var model = NewModel();
            using var trainer = new CausalLmTrainer(model, Data(), Options(3));
            trainer.Run();
            return trainer.History.Select(h => h.Loss ?? h.ValidationLoss!.Value).ToList();
        }
        CollectionAssert.AreEqual(Losses(), Losses());
    }

    /// <summary>N steps straight against N/2, interrupt (Ctrl-C path: cancellation saves a checkpoint), resume, N/2.</summary>
    [TestMethod]
    public void ResumeContinuesTheUninterruptedLossCurve()
    {
        using var dir = new TempDir();
        const int N = 4;
        List<TrainingLogEntry> straight;
        using (var model = NewModel())
        using (var trainer = new CausalLmTrainer(model, Data(), Options(N)) { OutputDirectory = dir["straight"] })
        {
            trainer.Run();
            straight = trainer.History.ToList();
        }

        string checkpoint;
        using (var model = NewModel())
        using (var trainer = new CausalLmTrainer(model, Data(), Options(N)) { OutputDirectory = dir["interrupted"] })
        using (var cts = new CancellationTokenSource())
        {
            trainer.StepCompleted += e => { if (e.Step == N / 2) cts.Cancel(); };
            var result = trainer.Run(cts.Token);
            Assert.IsTrue(result.Interrupted);
            Assert.AreEqual(N / 2, result.Step);
            checkpoint = result.FinalCheckpoint!;
            Assert.AreEqual(TrainingState.CheckpointName(N / 2), Path.GetFileName(checkpoint));
        }
        Assert.AreEqual(checkpoint, TrainingState.Locate(dir["interrupted"]));

        // Also shake torch's global generator, which resume must restore.
        torch.random.manual_seed(12345);
        List<TrainingLogEntry> resumed;
        int lastWritten = 0;
        using (var model = JambaModel.Load(checkpoint))
        using (var trainer = new CausalLmTrainer(model, Data(), Options(N)) { OutputDirectory = dir["interrupted"] })
        {
            trainer.Resume(checkpoint);
            Assert.AreEqual(N / 2, trainer.Step);
            trainer.CurvesWritten += h => lastWritten = h.Count;
            trainer.Run();
            resumed = trainer.History.ToList();
        }

        Assert.AreEqual(straight.Count, resumed.Count);
        for (int i = 0; i < straight.Count; i++)
        {
            Assert.AreEqual(straight[i].Step, resumed[i].Step);
            Assert.AreEqual(straight[i].Loss ?? double.NaN, resumed[i].Loss ?? double.NaN, 1e-5, $"train loss at step {straight[i].Step}");
            Assert.AreEqual(straight[i].ValidationLoss ?? double.NaN, resumed[i].ValidationLoss ?? double.NaN, 1e-5, $"val loss at step {straight[i].Step}");
            Assert.AreEqual(straight[i].LearningRate ?? 0, resumed[i].LearningRate ?? 0, 1e-12);
        }
        var csv = File.ReadAllLines(Path.Combine(dir["interrupted"], LossCurve.CsvFile));
        Assert.AreEqual(LossCurve.CsvHeader, csv[0]);
        Assert.AreEqual(straight.Count + 1, csv.Length, "the CSV holds the whole run once");
        Assert.AreEqual(straight.Count, lastWritten, "the last CurvesWritten event carries the whole run");
        Assert.IsFalse(File.Exists(Path.Combine(dir["interrupted"], "loss.png")), "the model library draws nothing; applications do");
    }

    [TestMethod]
    public void CheckpointIsReferenceFormatAndReloadsWithIdenticalLogits()
    {
        using var dir = new TempDir();
        using var model = NewModel();
        using var trainer = new CausalLmTrainer(model, Data(), Options(2, saveEvery: 1)) { OutputDirectory = dir.Path };
        var result = trainer.Run();
        Assert.IsTrue(Directory.Exists(dir[TrainingState.CheckpointName(1)]));
        string ckpt = result.FinalCheckpoint!;
        CollectionAssert.AreEquivalent(new[] { "config.json", "model.safetensors", TrainingState.StateFile, TrainingState.OptimizerFile },
            Directory.GetFiles(ckpt).Select(Path.GetFileName).ToArray());
        Assert.AreEqual(0, Directory.GetDirectories(dir.Path).Count(d => Path.GetFileName(d).StartsWith('.')), "no temporary folders left");
        var (header, _) = SafeTensors.ReadHeader(Path.Combine(ckpt, "model.safetensors"));
        CollectionAssert.AreEquivalent(model.Network.named_parameters().Select(p => p.name).ToArray(), header.Keys.ToArray(), "reference parameter names");

        using var reloaded = JambaModel.Load(ckpt);
        Assert.IsInstanceOfType<ByteTokenizer>(reloaded.Tokenizer, "the checkpoint records the built-in tokenizer");
        using var ids = tensor(new long[] { 1, 40, 50, 60, 70, 2 }, new long[] { 1, 6 });
        model.Network.eval();
        using var _ = no_grad();
        using var a = model.CausalLM!.Forward(ids);
        using var b = reloaded.CausalLM!.Forward(ids);
        Assert.IsTrue(a.Logits.equal(b.Logits).all().item<bool>(), "identical logits");
    }

    [TestMethod]
    public void ResumeRefusesChangedData()
    {
        using var dir = new TempDir();
        using (var model = NewModel())
        using (var trainer = new CausalLmTrainer(model, Data(), Options(1)) { OutputDirectory = dir.Path })
            trainer.Run();
        string ckpt = TrainingState.Locate(dir.Path);
        using var reloaded = JambaModel.Load(ckpt);
        var other = PackedDataset.Pack(Enumerable.Range(0, 60).Select(i => $"other text {i}").ToArray(), ByteTokenizer.Instance, 16);
        using var t2 = new CausalLmTrainer(reloaded, other, Options(2));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => t2.Resume(ckpt)).Message, "differs");
    }

    [TestMethod]
    public void MemoryDoesNotGrowOverSteps()
    {
        using var model = NewModel();
        using var trainer = new CausalLmTrainer(model, Data(), Options(8, evalEvery: 0) );
        long after2 = 0;
        trainer.StepCompleted += e =>
        {
            GC.Collect(); GC.WaitForPendingFinalizers();
            if (e.Step == 2) after2 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            if (e.Step == 7) Assert.AreEqual(after2, DisposeScopeManager.Statistics.ThreadTotalLiveCount, "live tensors after step 7 vs step 2");
        };
        trainer.Run();
    }

    [TestMethod]
    public void Bf16TrainingKeepsBf16WeightsAndLearns()
    {
        using var model = JambaModel.Create(Config(), new JambaModelOptions { DType = "bf16" }, seed: 1);
        var o = Options(4, evalEvery: 4);
        o.DType = "bf16";
        using var trainer = new CausalLmTrainer(model, Data(), o);
        trainer.Run();
        Assert.IsTrue(model.Network.parameters().All(p => p.dtype == ScalarType.BFloat16));
        var val = trainer.History.Where(h => h.ValidationLoss is not null).Select(h => h.ValidationLoss!.Value).ToList();
        Assert.IsTrue(val[^1] < val[0], string.Join(", ", val));
        var state = trainer.Optimizer.StateDict();
        Assert.IsTrue(state.Keys.Any(k => k.StartsWith("master.")));
        foreach (var t in state.Values) t.Dispose();
    }
}
