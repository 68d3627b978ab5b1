using Jamba.Training;
using SkiaSharp;

namespace Jamba.Tests.Cli;

/// <summary>`jamba train` end to end at toy size: the library writes loss.csv, the CLI draws loss.png from it.</summary>
[TestClass]
public sealed class TrainCommandTests
{
    [TestMethod]
    public void TrainWritesTheLossCsvAndDrawsTheLossPlot()
    {
        string dir = CliRunner.TempDir();
        string data = Path.Combine(dir, "data.txt");
        File.WriteAllText(data, string.Join("\n\n", Enumerable.Range(0, 40).Select(i => $"document {i}: the quick brown fox jumps over the lazy dog.")));
        string outDir = Path.Combine(dir, "run");

        var r = CliRunner.Run("train", "--preset", "tiny", "--data", data, "--out", outDir, "--steps", "3", "--seq-len", "16",
            "--batch", "2", "--eval-every", "0", "--threads", "1");

        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, $"loss curve: {Path.Combine(outDir, LossCurve.CsvFile)}, {Path.Combine(outDir, "loss.png")}");
        var csv = File.ReadAllLines(Path.Combine(outDir, LossCurve.CsvFile));
        Assert.AreEqual(LossCurve.CsvHeader, csv[0]);
        using var png = SKBitmap.Decode(Path.Combine(outDir, "loss.png")) ?? throw new AssertFailedException("loss.png does not decode");
        Assert.AreEqual((900, 540), (png.Width, png.Height));
        Assert.IsTrue(png.Pixels.Count(p => p != SKColors.White) > 2000, "the curves and axes are drawn");
    }

    [TestMethod]
    public void ChatDataIsRenderedWithTheTokenizerFoldersTemplate()
    {
        string dir = CliRunner.TempDir();
        string data = Path.Combine(dir, "chat.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 30).Select(i =>
            $"{{\"messages\": [{{\"role\": \"user\", \"content\": \"What is {i} + 1?\"}}, {{\"role\": \"assistant\", \"content\": \"{i} + 1 = {i + 1}.\"}}]}}"));
        string tokenizer = Path.Combine(AppContext.BaseDirectory, "models", "jamba-tiny-stories", "tokenizer.json");
        string outDir = Path.Combine(dir, "run");

        var r = CliRunner.Run("train", "--preset", "tiny", "--tokenizer", tokenizer, "--data", data, "--format", "chat", "--out", outDir,
            "--steps", "1", "--seq-len", "32", "--batch", "2", "--eval-every", "0", "--threads", "1");

        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        // 30 conversations; the rendered turns hold the chat tokens as single ids, so each is far shorter than its text.
        StringAssert.Contains(r.Stdout, "data: 30 documents");
        var tokens = long.Parse(System.Text.RegularExpressions.Regex.Match(r.Stdout, @"documents, ([\d,]+) tokens").Groups[1].Value.Replace(",", ""));
        Assert.IsTrue(tokens is > 30 * 10 and < 30 * 30, $"{tokens} tokens");

        var noTemplate = CliRunner.Run("train", "--preset", "tiny", "--data", data, "--format", "chat", "--out", outDir, "--steps", "1");
        CliRunner.AssertCleanFailure(noTemplate, "--format chat needs a chat template", 2);
    }
}
