using Jamba.Quickstart;

namespace Jamba.Quickstart.Tests;

/// <summary>The whole quickstart at a reduced size: outputs, reload fidelity, determinism, the user-data path.</summary>
[TestClass]
public sealed class PipelineTests
{
    private string dir = "";

    [TestInitialize]
    public void Init() => dir = Directory.CreateTempSubdirectory("jamba-quickstart-e2e-").FullName;

    [TestCleanup]
    public void Cleanup() => Directory.Delete(dir, recursive: true);

    private QuickstartOptions Small(string output) => new()
    {
        OutputDir = Path.Combine(dir, output), TrainRows = 48, TestRows = 24, Epochs = 1, BatchSize = 8, GenerateTokens = 4, Threads = 1,
    };

    private static QuickstartOptions WithData(QuickstartOptions o, string path)
    {
        o.DataPath = path;
        return o;
    }

    [TestMethod]
    public void SameSeedGivesTheSameNumbersAndEveryFileIsWritten()
    {
        var first = QuickstartPipeline.Run(Small("a"), TextWriter.Null);
        var second = QuickstartPipeline.Run(Small("b"), TextWriter.Null);

        Assert.AreEqual(first.Baseline, second.Baseline);
        Assert.AreEqual(first.Jamba, second.Jamba);
        CollectionAssert.AreEqual(first.Loss.Select(p => (p.Step, p.Loss)).ToList(), second.Loss.Select(p => (p.Step, p.Loss)).ToList());
        CollectionAssert.AreEqual(first.Predictions.ToList(), second.Predictions.ToList());
        CollectionAssert.AreEqual(first.Generations.Select(g => g.Continuation).ToList(), second.Generations.Select(g => g.Continuation).ToList());
        // Without --model the generation stage uses the shipped trained checkpoint: words, not bytes of noise.
        foreach (var g in first.Generations)
            Assert.IsTrue(System.Text.RegularExpressions.Regex.IsMatch(g.Continuation, @"^[ A-Za-z0-9,.+=]*[A-Za-z]{2}[ A-Za-z0-9,.+=]*$"), $"\"{g.Prompt}\" -> \"{g.Continuation}\"");
        // Saving and reloading changes nothing.
        Assert.AreEqual(first.Jamba with { Model = "" }, first.Reloaded with { Model = "" });

        foreach (var name in QuickstartReport.Files)
            Assert.IsTrue(File.Exists(Path.Combine(first.OutputDir, name)), name);
        foreach (var png in new[] { QuickstartReport.LossPlotFile, QuickstartReport.ComparisonPlotFile })
            CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(first.OutputDir, png)).Take(4).ToArray());
        StringAssert.Contains(File.ReadAllText(Path.Combine(first.OutputDir, "summary.txt")), "FeaturizeText + SdcaMaximumEntropy");
        Assert.IsFalse(Directory.EnumerateDirectories(dir, ".*").Any(), "no staging folder left");

        // A second run into the same folder replaces it.
        var again = QuickstartPipeline.Run(Small("a"), TextWriter.Null);
        Assert.AreEqual(first.Jamba, again.Jamba);
    }

    [TestMethod]
    public void RunsOnTheUsersTsv()
    {
        string path = Path.Combine(dir, "mine.tsv");
        var rows = Enumerable.Range(0, 30).Select(i => i % 3 == 0 ? $"pos\tgood film number {i}" : i % 3 == 1 ? $"neg\tbad film number {i}" : $"neutral\ta film {i}");
        File.WriteAllLines(path, rows.Prepend("Label\tText"));
        var result = QuickstartPipeline.Run(WithData(Small("user"), path), TextWriter.Null);
        CollectionAssert.AreEqual(new[] { "neg", "neutral", "pos" }, result.Classes.ToList());
        Assert.AreEqual(30, result.TrainRows + result.TestRows);
        Assert.AreEqual(6, result.TestRows); // 20 % of each class of 10
        Assert.AreEqual(4, result.Predictions.Count);
    }

    [TestMethod]
    public void StartsFromACheckpointFolder()
    {
        var config = Jamba.Planning.Presets.FromName("tiny");
        config.VocabSize = Jamba.Tokenization.ByteTokenizer.Instance.VocabSize;
        string checkpoint = Path.Combine(dir, "checkpoint");
        using (var model = JambaModel.Create(config, seed: 3)) model.Save(checkpoint);
        var options = Small("from-checkpoint");
        options.ModelDir = checkpoint;
        var result = QuickstartPipeline.Run(options, TextWriter.Null);
        StringAssert.Contains(result.ModelSource, checkpoint);
        Assert.AreEqual(2, result.Generations.Count);
    }

    [TestMethod]
    public void MissingCheckpointFolderIsAnInputError()
    {
        var options = Small("none");
        options.ModelDir = Path.Combine(dir, "no-such-model");
        var e = Assert.ThrowsExactly<QuickstartInputException>(() => QuickstartPipeline.Run(options, TextWriter.Null));
        StringAssert.Contains(e.Message, "no-such-model");
        Assert.IsFalse(Directory.Exists(options.OutputDir));
    }
}
