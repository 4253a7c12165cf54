import type { Metadata, Viewport } from "next";
import "./globals.css";

export const metadata: Metadata = { title: "Todo", description: "Tasks, in sync everywhere" };
export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        {children}
      </body>
    </html>
  );
}
