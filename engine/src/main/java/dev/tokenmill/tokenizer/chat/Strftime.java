package dev.tokenmill.tokenizer.chat;

import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.Locale;

/** Python's {@code datetime.strftime} in the C locale, for the directives chat templates use. */
final class Strftime {
    private Strftime() { }

    static String format(LocalDateTime t, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            boolean noPad = false;
            if (d == '-' && i + 1 < fmt.length()) { // glibc extension: %-d
                noPad = true;
                d = fmt.charAt(++i);
            }
            switch (d) {
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> num(sb, t.getYear() % 100, 2, noPad);
                case 'm' -> num(sb, t.getMonthValue(), 2, noPad);
                case 'd' -> num(sb, t.getDayOfMonth(), 2, noPad);
                case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
                case 'j' -> num(sb, t.getDayOfYear(), 3, noPad);
                case 'H' -> num(sb, t.getHour(), 2, noPad);
                case 'I' -> num(sb, (t.getHour() + 11) % 12 + 1, 2, noPad);
                case 'M' -> num(sb, t.getMinute(), 2, noPad);
                case 'S' -> num(sb, t.getSecond(), 2, noPad);
                case 'f' -> sb.append(String.format("%06d", t.getNano() / 1000));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'w' -> sb.append(t.getDayOfWeek().getValue() % 7);
                case 'u' -> sb.append(t.getDayOfWeek().getValue());
                case 'F' -> sb.append(format(t, "%Y-%m-%d"));
                case 'D', 'x' -> sb.append(format(t, "%m/%d/%y"));
                case 'T', 'X' -> sb.append(format(t, "%H:%M:%S"));
                case 'R' -> sb.append(format(t, "%H:%M"));
                case 'c' -> sb.append(format(t, "%a %b %e %H:%M:%S %Y"));
                case 'Z', 'z' -> { } // naive datetime: empty, as in Python
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }

    private static void num(StringBuilder sb, int v, int width, boolean noPad) {
        String s = Integer.toString(v);
        if (!noPad) for (int i = s.length(); i < width; i++) sb.append('0');
        sb.append(s);
    }
}
