// Small formatting helpers shared by the page's modules.

const moneyFormats = new Map();

/** 1250, "EUR" -> "€12.50", in the browser's locale. */
export function money(cents, currency) {
  let format = moneyFormats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: "currency", currency });
    moneyFormats.set(currency, format);
  }
  return format.format(cents / 100);
}

/** Milliseconds left -> "9:05"; never negative. */
export function countdown(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "numeric",
  minute: "2-digit",
});

/** Epoch milliseconds -> "Tue 12 Mar, 18:00", in the browser's locale and time zone. */
export function when(ms) {
  return dateFormat.format(new Date(ms));
}

/** "A1", "A2", "B1" -> "A1, A2 and B1". */
export function listOf(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
