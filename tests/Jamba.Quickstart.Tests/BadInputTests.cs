using System.Diagnostics;
using Jamba.Quickstart;

namespace Jamba.Quickstart.Tests;

/// <summary>Bad <c>--data</c> input: one clear error naming the problem, and nothing written.</summary>
[TestClass]
public sealed class BadInputTests
{
    private string dir = "";

    [TestInitialize]
    public void Init() => dir = Directory.CreateTempSubdirectory("jamba-quickstart-bad-").FullName;

    [TestCleanup]
    public void Cleanup() => Directory.Delete(dir, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private void AssertRejected(string dataPath, params string[] expected)
    {
        string output = Path.Combine(dir, "out");
        var options = new QuickstartOptions { DataPath = dataPath, OutputDir = output, Epochs = 1 };
        var e = Assert.ThrowsExactly<QuickstartInputException>(() => QuickstartPipeline.Run(options, TextWriter.Null));
        Assert.IsFalse(e.Message.Contains('\n'), e.Message);
        foreach (var part in expected) StringAssert.Contains(e.Message, part);
        Assert.IsFalse(Directory.Exists(output), "no output folder after an error");
        // Nothing else either: no staging folder, no model file.
        CollectionAssert.AreEquivalent(Directory.GetFiles(dir).Select(Path.GetFileName).ToList(),
            Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).ToList());
    }

    [TestMethod]
    public void MissingFile() => AssertRejected(Path.Combine(dir, "nope.tsv"), "data file not found", "nope.tsv");

    [TestMethod]
    public void EmptyFile() => AssertRejected(Write("empty.tsv", ""), "empty.tsv", "is empty");

    [TestMethod]
    public void BlankLinesOnlyIsEmpty() => AssertRejected(Write("blank.tsv", "\n\n  \n"), "is empty");

    [TestMethod]
    public void HeaderOnly() => AssertRejected(Write("header.tsv", "Text\tLabel\n"), "no examples");

    [TestMethod]
    public void NoLabelColumn() => AssertRejected(Write("nolabel.tsv", "Text\tCategory\nhello\ta\nbye\tb\n"), "no 'Label' column", "'Category'");

    [TestMethod]
    public void NoColumnsAtAll() => AssertRejected(Write("plain.tsv", "hello world\nanother line\n"), "no 'Text' and 'Label' columns");

    [TestMethod]
    public void OneClass() => AssertRejected(Write("one.tsv", "Label\tText\npos\tgood\npos\tfine\npos\tgreat\n"), "only one class", "'pos'");

    [TestMethod]
    public void ShortRow() => AssertRejected(Write("short.tsv", "Text\tLabel\ngood\tpos\nbad\n"), "line 3");

    [TestMethod]
    public void EmptyLabel() => AssertRejected(Write("emptylabel.tsv", "Text\tLabel\ngood\tpos\nbad\t \n"), "line 3", "empty");

    [TestMethod]
    public void UnknownPresetIsAnInputError()
    {
        var e = Assert.ThrowsExactly<QuickstartInputException>(() => QuickstartPipeline.Run(
            new QuickstartOptions { Preset = "huge", OutputDir = Path.Combine(dir, "out"), TrainRows = 8, TestRows = 4 }, TextWriter.Null));
        StringAssert.Contains(e.Message, "unknown preset 'huge'");
        Assert.IsFalse(Directory.Exists(Path.Combine(dir, "out")));
    }

    [TestMethod]
    public void ForeignOutputFolderIsNotReplaced()
    {
        string foreign = Path.Combine(dir, "mine");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "keep.txt"), "precious");
        var e = Assert.ThrowsExactly<QuickstartInputException>(() => QuickstartPipeline.Run(
            new QuickstartOptions { OutputDir = foreign, TrainRows = 8, TestRows = 4 }, TextWriter.Null));
        StringAssert.Contains(e.Message, "not quickstart output");
        Assert.AreEqual("precious", File.ReadAllText(Path.Combine(foreign, "keep.txt")));
    }

    [TestMethod]
    public void ProgramPrintsOneLineAndExitsNonZero()
    {
        // The real entry point, in its own process: the exit code and stderr are what a user sees.
        string exe = Path.Combine(AppContext.BaseDirectory, "Jamba.Quickstart.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir };
        foreach (var a in new[] { exe, "--data", Write("one.tsv", "Text\tLabel\na\tx\nb\tx\n") }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.AreEqual(1, p.ExitCode, stderr);
        Assert.AreEqual("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(1, lines.Length, stderr);
        StringAssert.StartsWith(lines[0], "quickstart: error: data file");
        StringAssert.Contains(lines[0], "only one class");
        Assert.IsFalse(Directory.Exists(Path.Combine(dir, "quickstart-output")));
    }
}
