/**
 * Every English string the portal shows or mails, in one place: a translation is one object of
 * type Strings (pass it as `strings`) and nothing else changes. Templated strings are
 * functions; their arguments are plain text and are escaped by the page or mail builder,
 * never here. Dates and sizes are formatted here too, since their form is the language's.
 */

export const en = {
  lang: "en",
  /** Dates on the pages, e.g. "4 Dec 2026, 09:30 UTC". */
  dateText: (d: Date) =>
    d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) +
    " UTC",
  /** File sizes, e.g. "1.2 MB". */
  fileSize: (bytes: number) => {
    if (bytes < 1024) return `${bytes} bytes`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  },
  productName: "Secure messages",
  skipToContent: "Skip to main content",
  footer: (org: string) => `Secure messages for ${org}. Please do not share links to this site.`,
  plainHttpWarning:
    "This portal is running without HTTPS. It is meant only for testing on this computer.",

  // Landing page for a link from a notice e-mail.
  landingTitle: "You have a secure message",
  landingIntro: (sender: string, org: string) =>
    `This message was sent to you securely by ${sender} of ${org}.`,
  landingWhy:
    "To keep it private, we need to check that this e-mail address belongs to you before " +
    "you can read it.",
  landingFirstTime: "First time here, or forgot your password?",
  landingCodeHelp: "We will e-mail you a code. It works for a short time and only once.",
  sendCodeButton: "Send me a code",
  landingHavePassword: "Already have a password?",
  signInButton: "Sign in",

  // One-time code.
  codeTitle: "Enter your code",
  codeSent: "We have just e-mailed you a code.",
  /** After a reset request: the same words whether or not the address has mail here. */
  codeSentIfKnown:
    "If this address has secure messages here, we are e-mailing it a code. If it has asked " +
    "for several codes lately, or had too many wrong tries, no new code is sent for a while: " +
    "use the most recent code, or try again later.",
  codeLocked: (until: string) =>
    "There were too many wrong tries for this address, so no code can be sent or used " +
    `until ${until}. Please try again then.`,
  codeThrottled:
    "Several codes were sent to this address lately, so no new one was sent. Please use the " +
    "most recent code, or try again later.",
  codeCheckSpam: "It can take a minute to arrive. Please check your junk folder too.",
  codeLabel: "Code from the e-mail",
  codeButton: "Continue",
  codeWrong:
    "That code did not work. Codes can be used once and expire after a short time. " +
    "After several wrong tries the account is locked for a while.",
  codeResend: "Send a new code",

  // Passwords.
  setPasswordTitle: "Choose a password",
  setPasswordIntro: "Next time you can sign in with this password instead of waiting for a code.",
  newPasswordLabel: "New password",
  newPasswordHint: "At least 12 characters. A few unrelated words are easy to remember.",
  confirmPasswordLabel: "Type the password again",
  setPasswordButton: "Save password",
  passwordsDiffer: "The two passwords are not the same. Please type them again.",
  passwordTooShort: "The password needs at least 12 characters.",
  passwordSaved: "Your password is saved.",

  // Sign in and reset.
  signInTitle: "Sign in",
  emailLabel: "Your e-mail address",
  passwordLabel: "Password",
  signInFailed:
    "We could not sign you in with that address and password. If you tried several times, " +
    "please wait a while or reset your password.",
  forgotPassword: "Forgot your password?",
  resetTitle: "Reset your password",
  resetIntro: "Enter your e-mail address and we will send you a code to choose a new password.",
  resetButton: "Send code",
  signOutButton: "Sign out",
  signedOut: "You have signed out.",

  // Inbox and message.
  inboxTitle: "Your secure messages",
  inboxEmpty: "There are no messages for you here.",
  inboxFrom: "From",
  inboxSubject: "Subject",
  inboxDate: "Received",
  inboxExpires: "Available until",
  inboxYouReplied: "You replied",
  sentByYou: "Sent by you",
  noSubject: "(no subject)",
  backToInbox: "Back to all messages",
  messageFrom: "From",
  messageTo: "To",
  messageCc: "Cc",
  messageDate: "Date",
  messageExpires: (date: string) => `You can read this message here until ${date}.`,
  messageFrameTitle: "Message text",
  remoteImagesBlocked:
    "Pictures from other websites are not shown, so the sender cannot see when you read this.",
  showRemoteImages: "Show pictures from the web",
  attachmentsHeading: "Attachments",
  attachmentDownload: (name: string, size: string) => `Download ${name} (${size})`,
  replyButton: "Reply",
  replyAllButton: "Reply to all",

  // Per-message passphrase.
  passphraseTitle: "This message has an extra passphrase",
  passphraseIntro:
    "The sender protected this message with a passphrase. They will tell you " +
    "what it is in another way, for example by phone.",
  passphraseLabel: "Passphrase",
  passphraseButton: "Open message",
  passphraseWrong: "That passphrase is not right. Please check it with the sender.",
  passphraseLocked: (until: string) =>
    `There were too many wrong passphrases. Please try again after ${until}.`,

  // Reply.
  replyTitle: "Reply securely",
  replyTo: (names: string) => `Your reply goes securely to ${names}.`,
  replyBodyLabel: "Your message",
  replyAttachLabel: "Attach files (optional)",
  replyAttachHint: (maxMb: number) => `You can attach several files, up to ${maxMb} MB in total.`,
  replySend: "Send reply",
  replySent: "Your reply has been sent securely. A copy is kept here.",
  replyEmpty: "Please write a message or attach a file.",
  replyTooLarge: "The attachments are too large. Please send fewer or smaller files.",

  // Problems.
  expiredTitle: "This message has expired",
  expiredText:
    "Secure messages are kept only for a limited time. Please ask the sender to send it again.",
  revokedTitle: "This message was withdrawn",
  revokedText: "The sender has withdrawn this message. Please contact them if you still need it.",
  notFoundTitle: "We could not find that",
  notFoundText:
    "The link may be incomplete or out of date. Please use the link in the most recent e-mail.",
  forbiddenTitle: "This page could not be used",
  forbiddenText:
    "The form was out of date or opened in another way. Please go back, reload and try again.",
  tooManyTitle: "Please wait a moment",
  tooManyText: "There were too many attempts. Please wait a few minutes and try again.",
  signInNeededTitle: "Please sign in",
  signInNeededText: "Your session has ended. Please sign in again to continue.",
  errorTitle: "Something went wrong",
  errorText: (ref: string) => `Please try again later. If it keeps happening, quote ${ref}.`,

  // E-mail the portal sends: the notice, the sender's copy, the code, a reply's From name.
  mail: {
    /** Dates in mail, e.g. "2026-12-04": read the same way everywhere. */
    date: (d: Date) => d.toISOString().slice(0, 10),
    fromName: (org: string) => `${org} secure mail`,
    noticeIntro: (sender: string, org: string) =>
      `This message was sent to you securely by ${sender} at ${org}.`,
    noticeHowTo: "To read it, open this link and confirm your e-mail address:",
    noticeLink: "Read the secure message",
    noticeUntil: (date: string) => `The message can be read until ${date}.`,
    noticeIgnore: "If you did not expect it, you can ignore this e-mail.",
    senderCopySubject: (subject: string) => `Delivered securely: ${subject}`,
    senderCopyText: (recipient: string, org: string) =>
      `Your message to ${recipient} was delivered through the ${org} secure portal.`,
    senderCopyNotice: (date: string) =>
      `They were sent a link to read it there until ${date}. This copy has no link: only ` +
      "they can open it.",
    codeSubject: (org: string) => `Your code for ${org} secure mail`,
    codeIs: (code: string) => `Your code is ${code}`,
    codeWithin: (minutes: number) => `Enter it on the secure mail page within ${minutes} minutes.`,
    codeIgnore: "If you did not ask for a code, you can ignore this e-mail.",
    replyFromName: (author: string, org: string) => `${author} via ${org} secure mail`,
  },
};

/** A language for the portal: the English object's shape, with any text in it. */
export type Strings = typeof en;
