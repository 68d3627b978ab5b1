using System.Diagnostics;

namespace Jamba.Tests.Cli;

/// <summary>Runs the built `jamba` tool (Jamba.Cli, copied beside the tests) as a separate process.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result RunWithInput(string? stdin, params string[] args)
    {
        string exe = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Jamba.Cli.exe" : "Jamba.Cli");
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["JAMBA_DEBUG"] = "0";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(120_000)) { p.Kill(entireProcessTree: true); Assert.Fail($"jamba {string.Join(' ', args)} did not finish in 120 s"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(params string[] args) => RunWithInput(null, args);

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "jamba-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A failure must be one line on stderr, with no .NET or native stack trace.</summary>
    public static void AssertCleanFailure(Result r, string mustContain, int exitCode = 1)
    {
        Assert.AreEqual(exitCode, r.ExitCode, $"exit code; stderr: {r.Stderr}");
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(1, lines.Length, $"expected one stderr line, got:\n{r.Stderr}");
        StringAssert.Contains(lines[0], mustContain);
        Assert.IsFalse(r.Stderr.Contains("   at ") || r.Stderr.Contains("Exception:") && r.Stderr.Contains("--- End"), r.Stderr);
    }
}
