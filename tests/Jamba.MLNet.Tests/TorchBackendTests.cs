using System.Diagnostics;
using Jamba.Runtime;
using Microsoft.ML;

namespace Jamba.MLNet.Tests;

/// <summary>
/// An app that references Jamba.MLNet but no TorchSharp backend package (tests/Jamba.NoBackendCheck, run in its own
/// process) gets one short line naming TorchSharp-cpu from the first call that needs libtorch, not TorchSharp's trace.
/// </summary>
[TestClass]
public sealed class TorchBackendTests
{
    private static (int ExitCode, string Stdout, string Stderr) RunWithoutBackend(params string[] args)
    {
        // This test runs from tests/Jamba.MLNet.Tests/bin/<Configuration>/<tfm>/; the helper is built beside it (ProjectReference).
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string helper = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.FullName, "Jamba.NoBackendCheck", "bin", here.Parent.Name, here.Name, "Jamba.NoBackendCheck.dll");
        Assert.IsTrue(File.Exists(helper), $"helper not built: {helper}");
        string helperDir = Path.GetDirectoryName(helper)!;
        // TorchSharp, when asked to load without a backend, copies libtorch from the NuGet cache into cpu/ beside
        // itself; Jamba must not let it (checked below), and a copy left by an older build must not hide that.
        string consolidated = Path.Combine(helperDir, "cpu");
        if (Directory.Exists(consolidated)) Directory.Delete(consolidated, recursive: true);
        Assert.IsFalse(Directory.EnumerateFiles(helperDir, "*torch_cpu*", SearchOption.AllDirectories).Any(),
            $"{helperDir} must have no libtorch: Jamba.NoBackendCheck stands for an app without a backend package");

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(helper);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.IsTrue(process.WaitForExit(120_000), "helper timed out");
        Assert.IsFalse(Directory.Exists(consolidated), "TorchSharp's fallback ran: it copied libtorch from the NuGet cache into the app folder");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertBackendMessage((int ExitCode, string Stdout, string Stderr) run)
    {
        Assert.AreEqual(2, run.ExitCode, $"expected the missing-backend InvalidOperationException; stdout: {run.Stdout}; stderr: {run.Stderr}");
        string message = run.Stderr.Trim();
        Assert.AreEqual(1, message.Split('\n').Length, $"one line expected, got: {message}");
        StringAssert.Contains(message, "TorchSharp-cpu");
        StringAssert.Contains(message, "TorchSharp-cuda-linux");
        StringAssert.Contains(message, TorchBackend.Advice);
        Assert.IsFalse((run.Stdout + message).Contains("LoadNativeBackend", StringComparison.Ordinal), $"TorchSharp's own trace leaked: {run.Stdout}{message}");
    }

    [TestMethod]
    public void ModelCreateWithoutBackendNamesThePackage() => AssertBackendMessage(RunWithoutBackend("create"));

    [TestMethod]
    public void ModelLoadWithoutBackendNamesThePackage()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"jamba-nobackend-{Guid.NewGuid():N}");
        try
        {
            TestModels.Tiny.Save(dir);
            AssertBackendMessage(RunWithoutBackend("load", dir));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void LoadJambaWithoutBackendNamesThePackage()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(4, 1));
        var model = ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny).Fit(data);
        string path = Path.Combine(Path.GetTempPath(), $"jamba-nobackend-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.SaveJamba(model, data.Schema, path);
            AssertBackendMessage(RunWithoutBackend("loadjamba", path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void WithABackendEnsureLoadedSucceeds()
    {
        TorchBackend.EnsureLoaded();
        Assert.IsTrue(TorchBackend.IsAvailable);
    }
}
