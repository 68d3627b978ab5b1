using System.Runtime.InteropServices;
using TorchSharp;

namespace Jamba.Runtime;

/// <summary>
/// TorchSharp's native backend (libtorch and TorchSharp's libLibTorchSharp), which the app — not this library —
/// brings, by referencing <c>TorchSharp-cpu</c> or <c>TorchSharp-cuda-linux</c> (TorchSharp's own convention). The
/// first call that needs it (<see cref="JambaModel.Load"/>, <see cref="JambaModel.Create"/>, and through them every
/// ML.NET Fit and Transform) checks it here, so an app without a backend gets one short line naming the package to
/// add instead of TorchSharp's page-long loader trace.
/// </summary>
public static class TorchBackend
{
    /// <summary>The packages an app adds to get a backend, as the error message names them.</summary>
    public const string Advice = "add a reference to the package TorchSharp-cpu (or TorchSharp-cuda-linux for NVIDIA GPUs) to your app";

    private static readonly Lazy<Exception?> Failure = new(TryLoad, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when the native backend is loaded (loads it on first use).</summary>
    public static bool IsAvailable => Failure.Value is null;

    /// <summary>
    /// Loads the native backend once per process, or throws <see cref="InvalidOperationException"/> with a one-line
    /// message naming the package to add; the loader's own report is the inner exception.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (Failure.Value is { } e) throw new InvalidOperationException(Message(), e);
    }

    /// <summary>
    /// TorchSharp's first loading step, done here first: libtorch (torch_cpu) and then LibTorchSharp, by name, as the
    /// app's own native assets. When that fails TorchSharp would go on to print its whole trace to standard output and
    /// copy libtorch out of the NuGet cache (when some other project restored it) into the app folder — half a
    /// gigabyte, and on Debian 12 a copy without the GLIBCXX fix that fails to load anyway. So TorchSharp is only
    /// asked once the first step worked, or when TorchSharp.dll itself was loaded from the NuGet cache (a notebook
    /// or script), where that copy is how TorchSharp is meant to find its backend.
    /// </summary>
    private static Exception? TryLoad()
    {
        var assembly = typeof(torch).Assembly;
        NativeLibrary.TryLoad("torch_cpu", assembly, null, out _);
        if (!NativeLibrary.TryLoad("LibTorchSharp", assembly, null, out _) && !LoadedFromNuGetCache(assembly.Location))
        {
            try { NativeLibrary.Load("LibTorchSharp", assembly, null); }
            catch (Exception e) { return e; }
        }
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>True for .../torchsharp/VERSION/lib/TFM/TorchSharp.dll, TorchSharp's NuGet package layout.</summary>
    private static bool LoadedFromNuGetCache(string location)
    {
        if (string.IsNullOrEmpty(location)) return false;
        var tfm = Directory.GetParent(location);
        var lib = tfm?.Parent;
        return lib is { Name: "lib" } && string.Equals(lib.Parent?.Parent?.Name, "torchsharp", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The message for a failed load. TorchSharp's own package brings only its thin LibTorchSharp; libtorch itself
    /// (torch_cpu) comes with the backend package. When libtorch is in the app folder the backend is referenced but
    /// could not be loaded (a missing system library, say), which another package would not fix.
    /// </summary>
    private static string Message()
    {
        bool present = Directory.Exists(AppContext.BaseDirectory)
            && Directory.EnumerateFiles(AppContext.BaseDirectory, "*torch_cpu.*", SearchOption.AllDirectories).Any();
        return present
            ? $"TorchSharp's native backend is in {AppContext.BaseDirectory} but could not be loaded (the inner exception says why)"
            : $"Jamba needs TorchSharp's native backend (libtorch), and this app has none: {Advice}";
    }
}
