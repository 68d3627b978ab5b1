using System.Globalization;
using System.Text;

namespace Jamba.Chat.Templates;

/// <summary>
/// Python's <c>datetime.strftime</c> in the C locale, for transformers' <c>strftime_now(format)</c> (Llama 3.x
/// templates print <c>strftime_now("%d %b %Y")</c>). glibc's <c>%-d</c> (no padding) is supported too.
/// </summary>
internal static class Strftime
{
    public static string Format(DateTime time, string format)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                sb.Append(c);
                continue;
            }
            bool unpadded = format[i + 1] == '-' && i + 2 < format.Length;
            char code = format[i += unpadded ? 2 : 1];
            string Num(int value, int width) => unpadded ? value.ToString(inv) : value.ToString(new string('0', width), inv);
            sb.Append(code switch
            {
                'd' => Num(time.Day, 2),
                'e' => time.Day.ToString(inv).PadLeft(2),
                'm' => Num(time.Month, 2),
                'Y' => time.Year.ToString(inv),
                'y' => Num(time.Year % 100, 2),
                'H' => Num(time.Hour, 2),
                'I' => Num(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Num(time.Minute, 2),
                'S' => Num(time.Second, 2),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", inv),
                'j' => Num(time.DayOfYear, 3),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'a' => inv.DateTimeFormat.GetAbbreviatedDayName(time.DayOfWeek),
                'A' => inv.DateTimeFormat.GetDayName(time.DayOfWeek),
                'b' or 'h' => inv.DateTimeFormat.GetAbbreviatedMonthName(time.Month),
                'B' => inv.DateTimeFormat.GetMonthName(time.Month),
                'w' => ((int)time.DayOfWeek).ToString(inv),
                'F' => time.ToString("yyyy-MM-dd", inv),
                'T' => time.ToString("HH:mm:ss", inv),
                '%' => "%",
                _ => throw new TemplateRuntimeException($"strftime_now: the format code '%{code}' is not supported"),
            });
        }
        return sb.ToString();
    }
}
