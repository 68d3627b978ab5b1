using System.Runtime.InteropServices;

namespace Jamba.Quickstart;

/// <summary>
/// The output folder, written all-or-nothing: files go into a hidden staging folder beside the target, which replaces
/// the target only when the run succeeds, so a failed or interrupted run never leaves partial output (and never
/// destroys the previous run's output).
/// </summary>
public sealed class OutputFolder : IDisposable
{
    /// <summary>The file whose presence marks a folder as quickstart output, so that only such a folder is replaced.</summary>
    public const string MarkerFile = "summary.txt";

    private bool committed;

    /// <summary>Where the files will be once <see cref="Commit"/> has run (full path).</summary>
    public string Target { get; }
    /// <summary>Where files are written during the run.</summary>
    public string Staging { get; }

    private OutputFolder(string target, string staging)
    {
        Target = target;
        Staging = staging;
        // Ctrl-C or SIGTERM ends the process without running Dispose (and, measured, without ProcessExit while
        // libtorch is training), so the signal handlers remove the staging folder before the default termination.
        signals = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM }.Select(s => PosixSignalRegistration.Create(s, _ => DeleteStaging())).ToArray();
    }

    private readonly PosixSignalRegistration[] signals;

    /// <summary>
    /// Checks that <paramref name="path"/> can be (re)placed and creates the staging folder.
    /// </summary>
    /// <exception cref="QuickstartInputException">The path is a file, or a non-empty folder that is not quickstart output.</exception>
    public static OutputFolder Begin(string path)
    {
        string target = Path.GetFullPath(path);
        if (File.Exists(target)) throw new QuickstartInputException($"output path {path} is a file; choose a folder with --out");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !File.Exists(Path.Combine(target, MarkerFile)))
            throw new QuickstartInputException($"output folder {path} exists and is not quickstart output (no {MarkerFile}); choose another with --out");
        string parent = Path.GetDirectoryName(target.TrimEnd(Path.DirectorySeparatorChar)) ?? ".";
        string staging = Path.Combine(parent, $".{Path.GetFileName(target.TrimEnd(Path.DirectorySeparatorChar))}.partial-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(parent);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            Directory.CreateDirectory(staging);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuickstartInputException($"cannot write to output folder {path}: {e.Message}", e);
        }
        return new OutputFolder(target, staging);
    }

    /// <summary>A path inside the staging folder.</summary>
    public string PathOf(string name) => Path.Combine(Staging, name);

    /// <summary>Replaces the target with the staged files.</summary>
    public void Commit()
    {
        if (Directory.Exists(Target)) Directory.Delete(Target, recursive: true);
        Directory.Move(Staging, Target);
        committed = true;
        foreach (var r in signals) r.Dispose();
    }

    /// <summary>Removes the staging folder unless <see cref="Commit"/> ran.</summary>
    public void Dispose()
    {
        DeleteStaging();
        foreach (var r in signals) r.Dispose();
    }

    private void DeleteStaging()
    {
        if (committed) return;
        try { if (Directory.Exists(Staging)) Directory.Delete(Staging, recursive: true); }
        catch (IOException) { } // Best effort: a staging folder left behind is hidden and replaced by the next run.
    }
}
