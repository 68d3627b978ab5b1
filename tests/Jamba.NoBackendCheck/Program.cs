// Usage: Jamba.NoBackendCheck create | load DIR | loadjamba FILE
// Makes one call that needs libtorch, in an app without a backend. Prints the InvalidOperationException's message
// (exit 2), or "loaded" (exit 0) if a backend was found after all, or the whole exception for anything else (exit 3).
using Jamba;
using Jamba.Planning;
using Microsoft.ML;

try
{
    switch (args[0])
    {
        case "create": JambaModel.Create(Presets.Tiny(), seed: 1).Dispose(); break;
        case "load": JambaModel.Load(args[1]).Dispose(); break;
        case "loadjamba": ((IDisposable)new MLContext(seed: 1).Model.LoadJamba(args[1], out _)).Dispose(); break;
        default: throw new ArgumentException($"unknown case '{args[0]}'");
    }
    Console.WriteLine("loaded");
    return 0;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (Exception e)
{
    Console.Error.WriteLine(e);
    return 3;
}
